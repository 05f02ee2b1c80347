-- One row per end of a course for a learner: `course_complete` (with a result) or `course_drop`.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

course_end_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type in ('course_complete', 'course_drop')
        and {{ new_batches_only() }}

),

extracted as (

    select
        event_id,
        event_type,
        learner_key,
        session_id,
        course_id,
        occurred_at as ended_at,

        -- properties
        {{ json_str('properties', 'result') }} as result,
        {{ json_str('properties', 'reason') }} as drop_reason,

        -- lineage
        batch_id,
        loaded_at

    from course_end_events

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        ended_at,

        -- the contract: a completion without a result is a pass
        case
            when event_type = 'course_drop' then 'dropped'
            else coalesce(result, 'pass')
        end as outcome,
        event_type = 'course_complete' as is_completed,
        event_type = 'course_complete' and coalesce(result, 'pass') in ('pass', 'distinction')
            as is_passed,
        drop_reason,

        -- lineage
        batch_id,
        loaded_at

    from extracted

)

select * from final
