-- One row per learner: activity, course outcomes, current profile and consent, learning style.
-- No direct identifiers: the learner is known only by the pseudonymous `learner_key`.
with

activity as (

    select * from {{ ref('int_learner_events_aggregated_to_learners') }}

),

profiles as (

    select * from {{ ref('int_learners_profiled') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

learning_style as (

    select * from {{ ref('int_video_activity_aggregated_to_learners') }}

),

course_progress as (

    select * from {{ ref('learner_course_progress') }}

),

segments as (

    select * from {{ ref('int_learners_segmented') }}

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

final as (

    select
        -- grain: learner
        activity.learner_key,

        -- activity (windows end at the latest event date in the warehouse)
        activity.first_activity_at,
        activity.last_activity_at,
        cast(
            {{ dbt.datediff(
                'cast(activity.first_activity_at as date)', 'activity.reference_date', 'day'
            ) }} as {{ dbt.type_int() }}
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
        profiles.target_role,
        coalesce(segments.role_family, 'unknown') as segment,
        profiles.current_skills,
        cast(profiles.weekly_minutes as {{ dbt.type_int() }}) as weekly_minutes,
        profiles.preferred_format,

        -- consent
        coalesce(profiles.has_fine_consent, false) as has_fine_consent,
        case
            when profiles.has_fine_consent then 'fine' else 'essential'
        end as consent_tier,
        coalesce(profiles.personalization_opted_out, false) as personalization_opted_out,
        coalesce(profiles.has_message_consent, true) as has_message_consent,

        -- learning style (consented fine-grained signals per active video day)
        cast(coalesce(learning_style.video_active_days, 0) as {{ dbt.type_int() }})
            as video_active_days,
        cast(coalesce(learning_style.consented_video_days, 0) as {{ dbt.type_int() }})
            as consented_video_days,
        cast(
            round(
                1.0 * learning_style.seek_count / nullif(learning_style.consented_video_days, 0),
                3
            ) as double
        ) as seeks_per_video_day,
        cast(
            round(
                1.0 * learning_style.rewind_count / nullif(learning_style.consented_video_days, 0),
                3
            ) as double
        ) as rewinds_per_video_day,
        cast(
            round(
                1.0 * learning_style.skip_count / nullif(learning_style.consented_video_days, 0),
                3
            ) as double
        ) as skips_per_video_day,
        cast(
            round(
                1.0 * learning_style.pause_count / nullif(learning_style.consented_video_days, 0),
                3
            ) as double
        ) as pauses_per_video_day,

        activity.reference_date

    from activity
    left join courses
        on activity.learner_key = courses.learner_key
    left join quizzes
        on activity.learner_key = quizzes.learner_key
    left join profiles
        on activity.learner_key = profiles.learner_key
    left join learning_style
        on activity.learner_key = learning_style.learner_key
    left join segments
        on activity.learner_key = segments.learner_key

)

select * from final
