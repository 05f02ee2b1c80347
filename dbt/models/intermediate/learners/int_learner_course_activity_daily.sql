-- Learning activity per learner x course x UTC day. Incremental: events are append-only, so a
-- run re-processes only the days from the latest loaded day on (a late event of that day is then
-- counted); events that arrive for an earlier day need a `--full-refresh`.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['learner_key', 'course_id', 'activity_date'],
        on_schema_change='fail'
    )
}}

with

module_starts as (

    select * from {{ ref('stg_pathwise__module_starts') }}

),

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

video_progress as (

    select * from {{ ref('stg_pathwise__video_progress') }}

),

{% if is_incremental() %}
already_loaded as (

    -- An empty table (no learning events yet) re-processes everything.
    select
        coalesce(max(activity_date), cast('1900-01-01' as date)) as reprocess_from

    from {{ this }}

),
{% endif %}

-- One row per learning event, with what it counts towards.
learning_events as (

    select
        learner_key,
        course_id,
        started_at as occurred_at,
        1 as is_module_start,
        0 as is_module_completion,
        0 as is_quiz_submission

    from module_starts

    union all

    select
        learner_key,
        course_id,
        completed_at as occurred_at,
        0 as is_module_start,
        1 as is_module_completion,
        0 as is_quiz_submission

    from module_completions

    union all

    select
        learner_key,
        course_id,
        submitted_at as occurred_at,
        0 as is_module_start,
        0 as is_module_completion,
        1 as is_quiz_submission

    from quiz_submissions

    union all

    select
        learner_key,
        course_id,
        reported_at as occurred_at,
        0 as is_module_start,
        0 as is_module_completion,
        0 as is_quiz_submission

    from video_progress

),

dated_events as (

    select
        *,
        cast(occurred_at as date) as activity_date

    from learning_events

),

events_daily as (

    select
        learner_key,
        course_id,
        activity_date,
        sum(is_module_start) as modules_started,
        sum(is_module_completion) as modules_completed,
        sum(is_quiz_submission) as quiz_submissions,
        min(occurred_at) as first_activity_at,
        max(occurred_at) as last_activity_at

    from dated_events
    {% if is_incremental() %}
    where activity_date >= (select reprocess_from from already_loaded)
    {% endif %}
    group by learner_key, course_id, activity_date

),

-- Video minutes are new ground covered: how far the day's furthest playback position got past
-- the furthest position reached on earlier days (per module), so re-watching adds nothing. This
-- needs each module's history, hence no incremental filter before the window.
video_module_daily as (

    select
        learner_key,
        course_id,
        module_id,
        cast(reported_at as date) as activity_date,
        max(position_seconds) as max_position_seconds

    from video_progress
    group by learner_key, course_id, module_id, cast(reported_at as date)

),

video_module_advance as (

    select
        *,
        max(max_position_seconds) over (
            partition by learner_key, course_id, module_id
            order by activity_date
            rows between unbounded preceding and 1 preceding
        ) as previous_max_position_seconds

    from video_module_daily

),

video_daily as (

    select
        learner_key,
        course_id,
        activity_date,
        sum(
            case
                when max_position_seconds > coalesce(previous_max_position_seconds, 0)
                    then max_position_seconds - coalesce(previous_max_position_seconds, 0)
                else 0
            end
        ) / 60.0 as video_minutes

    from video_module_advance
    {% if is_incremental() %}
    where activity_date >= (select reprocess_from from already_loaded)
    {% endif %}
    group by learner_key, course_id, activity_date

),

final as (

    select
        events_daily.learner_key,
        events_daily.course_id,
        events_daily.activity_date,
        cast(events_daily.modules_started as {{ dbt.type_int() }}) as modules_started,
        cast(events_daily.modules_completed as {{ dbt.type_int() }}) as modules_completed,
        cast(events_daily.quiz_submissions as {{ dbt.type_int() }}) as quiz_submissions,
        cast(round(coalesce(video_daily.video_minutes, 0), 2) as double) as video_minutes,
        events_daily.first_activity_at,
        events_daily.last_activity_at

    from events_daily
    left join video_daily
        on events_daily.learner_key = video_daily.learner_key
        and events_daily.course_id = video_daily.course_id
        and events_daily.activity_date = video_daily.activity_date

)

select * from final
