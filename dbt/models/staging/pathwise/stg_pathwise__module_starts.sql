-- One row per `module_start` event. A module was started.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

module_start_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'module_start'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        module_id,
        occurred_at as started_at,

        -- lineage
        batch_id,
        loaded_at

    from module_start_events

)

select * from final
