-- One row per `quiz_submit`: one attempt at a quiz or assessment.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

quiz_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'quiz_submit'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        module_id,
        occurred_at as submitted_at,

        -- properties
        {{ json_str('properties', 'quiz_id') }} as quiz_id,
        {{ json_num('properties', 'score') }} as score,
        {{ json_int('properties', 'attempt') }} as attempt_number,

        -- lineage
        batch_id,
        loaded_at

    from quiz_events

)

select * from final
