-- One row per `course_view`: a course page was viewed.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

course_view_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'course_view'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as viewed_at,

        -- lineage
        batch_id,
        loaded_at

    from course_view_events

)

select * from final
