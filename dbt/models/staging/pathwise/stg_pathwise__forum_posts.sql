-- One row per `forum_post` (course forums carry a course_id, general forums do not).
with

forum_post_events as (

    select * from {{ ref('stg_pathwise__events') }}
    where event_type = 'forum_post'

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
        {{ json_str('properties', 'text') }} as post_text

    from forum_post_events

)

select * from final
