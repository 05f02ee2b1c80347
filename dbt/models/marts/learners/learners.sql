-- One row per learner: activity, course outcomes, current profile and consent, learning style.
-- No direct identifiers: the learner is known only by the pseudonymous `learner_key`.
with

events_daily as (

    select * from {{ ref('int_learner_events_daily') }}

),

profiles as (

    select * from {{ ref('stg_pathwise__profiles') }}

),

consents as (

    select * from {{ ref('stg_pathwise__consents') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

fine_signals_daily as (

    select * from {{ ref('stg_pathwise__fine_signals_daily') }}

),

activity_daily as (

    select * from {{ ref('int_learner_course_activity_daily') }}

),

course_progress as (

    select * from {{ ref('learner_course_progress') }}

),

-- "Today" is the latest event in the warehouse, not now(): results are reproducible.
reference as (

    select * from {{ ref('int_reference_window') }}

),

learner_days as (

    select
        learner_key,
        activity_date as occurred_on,
        min(first_event_at) as first_at,
        max(last_event_at) as last_at

    from events_daily
    group by learner_key, activity_date

),

activity as (

    select
        learner_days.learner_key,
        min(learner_days.first_at) as first_activity_at,
        max(learner_days.last_at) as last_activity_at,
        count(*) as active_days,
        sum(
            case
                when learner_days.occurred_on
                    > {{ dbt.dateadd('day', -7, 'reference.reference_date') }}
                    then 1
                else 0
            end
        ) as active_days_last_7d,
        sum(
            case
                when learner_days.occurred_on
                    > {{ dbt.dateadd('day', -30, 'reference.reference_date') }}
                    then 1
                else 0
            end
        ) as active_days_last_30d,
        max(reference.reference_date) as reference_date

    from learner_days
    cross join reference
    group by learner_days.learner_key

),

courses as (

    select
        learner_key,
        count(*) as enrolments,
        sum(case when status = 'completed' then 1 else 0 end) as completions

    from course_progress
    group by learner_key

),

quizzes as (

    select
        learner_key,
        avg(score) as avg_quiz_score

    from quiz_submissions
    group by learner_key

),

latest_profiles as (

    select
        *,
        row_number() over (
            partition by learner_key
            order by updated_at desc, event_id desc
        ) as recency_rank

    from profiles

),

current_profiles as (

    select * from latest_profiles
    where recency_rank = 1

),

latest_fine_consents as (

    select
        *,
        row_number() over (
            partition by learner_key
            order by changed_at desc, event_id desc
        ) as recency_rank

    from consents
    where consent_tier = 'fine'

),

current_fine_consents as (

    select * from latest_fine_consents
    where recency_rank = 1

),

-- Fine signals are stored per ingest batch: sum them per learner and day first.
fine_days as (

    select
        learner_key,
        activity_date,
        sum(seek_count) as seek_count,
        sum(rewind_count) as rewind_count,
        sum(skip_count) as skip_count,
        sum(pause_count) as pause_count

    from fine_signals_daily
    group by learner_key, activity_date

),

video_days as (

    select distinct
        learner_key,
        activity_date

    from activity_daily
    where video_minutes > 0

),

-- Active video days: days with video progress or with consented fine-grained video behaviour.
style_days as (

    select
        coalesce(video_days.learner_key, fine_days.learner_key) as learner_key,
        coalesce(video_days.activity_date, fine_days.activity_date) as activity_date,
        fine_days.seek_count,
        fine_days.rewind_count,
        fine_days.skip_count,
        fine_days.pause_count

    from video_days
    full outer join fine_days
        on video_days.learner_key = fine_days.learner_key
        and video_days.activity_date = fine_days.activity_date

),

-- A video day without any recorded seek or pause still counts once fine signals are being
-- collected (from the learner's first fine-signal day), else quiet days would inflate the rates.
style_days_consented as (

    select
        *,
        min(case when seek_count is not null then activity_date end)
            over (partition by learner_key) as first_fine_signal_date

    from style_days

),

learning_style as (

    select
        learner_key,
        count(*) as video_active_days,
        sum(coalesce(seek_count, 0)) as seek_count,
        sum(coalesce(rewind_count, 0)) as rewind_count,
        sum(coalesce(skip_count, 0)) as skip_count,
        sum(coalesce(pause_count, 0)) as pause_count,
        sum(
            case when activity_date >= first_fine_signal_date then 1 else 0 end
        ) as consented_video_days

    from style_days_consented
    group by learner_key

),

final as (

    select
        -- grain: learner
        activity.learner_key,

        -- activity (windows end at the latest event date in the warehouse)
        activity.first_activity_at,
        activity.last_activity_at,
        cast(
            {{ dbt.datediff('cast(activity.first_activity_at as date)', 'activity.reference_date', 'day') }}
            as {{ dbt.type_int() }}
        ) as tenure_days,
        cast(activity.active_days as {{ dbt.type_int() }}) as active_days,
        cast(activity.active_days_last_7d as {{ dbt.type_int() }}) as active_days_last_7d,
        cast(activity.active_days_last_30d as {{ dbt.type_int() }}) as active_days_last_30d,

        -- courses
        cast(coalesce(courses.enrolments, 0) as {{ dbt.type_int() }}) as enrolments,
        cast(coalesce(courses.completions, 0) as {{ dbt.type_int() }}) as completions,
        cast(
            round(1.0 * courses.completions / nullif(courses.enrolments, 0), 4) as double
        ) as completion_rate,
        cast(quizzes.avg_quiz_score as double) as avg_quiz_score,

        -- current profile (latest profile_updated)
        current_profiles.target_role,
        current_profiles.current_skills,
        cast(current_profiles.weekly_minutes as {{ dbt.type_int() }}) as weekly_minutes,
        current_profiles.preferred_format,

        -- consent
        coalesce(current_fine_consents.is_granted, false) as has_fine_consent,
        case
            when current_fine_consents.is_granted then 'fine' else 'essential'
        end as consent_tier,

        -- learning style (consented fine-grained signals per active video day)
        cast(coalesce(learning_style.video_active_days, 0) as {{ dbt.type_int() }})
            as video_active_days,
        cast(coalesce(learning_style.consented_video_days, 0) as {{ dbt.type_int() }})
            as consented_video_days,
        cast(
            round(1.0 * learning_style.seek_count / nullif(learning_style.consented_video_days, 0), 3)
            as double
        ) as seeks_per_video_day,
        cast(
            round(1.0 * learning_style.rewind_count / nullif(learning_style.consented_video_days, 0), 3)
            as double
        ) as rewinds_per_video_day,
        cast(
            round(1.0 * learning_style.skip_count / nullif(learning_style.consented_video_days, 0), 3)
            as double
        ) as skips_per_video_day,
        cast(
            round(1.0 * learning_style.pause_count / nullif(learning_style.consented_video_days, 0), 3)
            as double
        ) as pauses_per_video_day,

        activity.reference_date

    from activity
    left join courses
        on activity.learner_key = courses.learner_key
    left join quizzes
        on activity.learner_key = quizzes.learner_key
    left join current_profiles
        on activity.learner_key = current_profiles.learner_key
    left join current_fine_consents
        on activity.learner_key = current_fine_consents.learner_key
    left join learning_style
        on activity.learner_key = learning_style.learner_key

)

select * from final
