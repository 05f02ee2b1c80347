with

source as (

    select * from {{ source('pathwise', 'quarantined_events') }}

),

final as (

    select
        -- where
        batch_id,
        source_file,
        line_no,

        -- why
        reason as quarantine_reason,
        detail as quarantine_detail,

        -- what could be read of the input
        event_id,
        event_type,
        learner_key,
        payload_redacted,

        quarantined_at

    from source

)

select * from final
