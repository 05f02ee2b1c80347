-- One row per `module_complete` event. A module was completed.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

module_complete_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'module_complete'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        module_id,
        occurred_at as completed_at,

        -- lineage
        batch_id,
        loaded_at

    from module_complete_events

)

select * from final
