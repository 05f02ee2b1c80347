with

source as (

    select * from {{ source('raw', 'events') }}

),

final as (

    select
        -- ids
        event_id,
        event_type,
        learner_key,
        session_id,
        course_id,
        module_id,

        -- payload
        schema_version,
        properties,

        -- timestamps
        occurred_at,
        cast(occurred_at as date) as occurred_on,

        -- lineage
        batch_id,
        loaded_at

    from source

)

select * from final
