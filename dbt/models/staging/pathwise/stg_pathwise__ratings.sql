-- One row per course `rating`.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

rating_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'rating'
        and {{ new_batches_only() }}

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
        {{ json_str('properties', 'comment') }} as comment_text,

        -- lineage
        batch_id,
        loaded_at

    from rating_events

),

final as (

    select
        *,
        coalesce(trim(comment_text), '') <> '' as has_comment

    from extracted

)

select * from final
