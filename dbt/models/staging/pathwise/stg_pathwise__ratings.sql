-- One row per course `rating`.
with

rating_events as (

    select * from {{ ref('stg_pathwise__events') }}
    where event_type = 'rating'

),

extracted as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as rated_at,

        -- properties
        {{ json_int('properties', 'stars') }} as stars,
        {{ json_str('properties', 'comment') }} as comment_text

    from rating_events

),

final as (

    select
        *,
        coalesce(trim(comment_text), '') <> '' as has_comment

    from extracted

)

select * from final
