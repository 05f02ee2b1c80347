with

source as (

    select * from {{ source('pathwise', 'event_ids') }}

),

final as (

    select
        event_id,
        fingerprint as payload_fingerprint,
        occurred_at,
        batch_id

    from source

)

select * from final
