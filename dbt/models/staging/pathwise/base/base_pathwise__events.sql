-- Every stored event (essential tier), the envelope renamed and `properties` kept as JSON: the
-- one raw table that feeds many staging models. Each event-family staging model
-- (`stg_pathwise__enrolments`, ...) selects its event types from here and types their properties,
-- so that no staging model reads another (dbt Labs' `base_` pattern).
with

source as (

    select * from {{ source('pathwise', 'events') }}

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
