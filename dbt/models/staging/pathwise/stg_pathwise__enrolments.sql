-- One row per `enroll` event.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

enroll_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'enroll'
        and {{ new_batches_only() }}

),

extracted as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as enrolled_at,

        -- properties
        {{ json_str('properties', 'rec_id') }} as rec_id,

        -- lineage
        batch_id,
        loaded_at

    from enroll_events

),

final as (

    select
        *,
        rec_id is not null as is_from_recommendation

    from extracted

)

select * from final
