-- One row per periodic `video_progress` report (essential tier: a progress signal).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

progress_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'video_progress'
        and {{ new_batches_only() }}

),

extracted as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        module_id,
        occurred_at as reported_at,

        -- properties
        {{ json_num('properties', 'position_s') }} as position_seconds,
        {{ json_num('properties', 'duration_s') }} as duration_seconds,

        -- lineage
        batch_id,
        loaded_at

    from progress_events

),

final as (

    select
        *,
        case
            when duration_seconds > 0
                then least(position_seconds / duration_seconds, 1.0)
        end as watched_share

    from extracted

)

select * from final
