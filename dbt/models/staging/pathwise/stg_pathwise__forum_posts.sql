-- One row per `forum_post` (course forums carry a course_id, general forums do not).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

forum_post_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'forum_post'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as posted_at,

        -- properties
        {{ json_str('properties', 'thread_id') }} as thread_id,
        {{ json_str('properties', 'text') }} as post_text,

        -- lineage
        batch_id,
        loaded_at

    from forum_post_events

)

select * from final
