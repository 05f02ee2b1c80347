-- Training rows for the drop-out model: one per learner x course x as-of date, for enrolments
-- still open at the as-of date. Features see only events with occurred_at < as_of_date
-- (midnight UTC); the label looks only at the 14 days from as_of_date on. No leakage by design.
{% set label_window_days = 14 %}
{% set as_of_every_days = 7 %}

with

events as (

    select * from {{ ref('stg_pathwise__events') }}

),

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

module_starts as (

    select * from {{ ref('stg_pathwise__module_starts') }}

),

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

activity_daily as (

    select * from {{ ref('int_learner_course_activity_daily') }}

),

data_range as (

    select
        min(occurred_on) as first_date,
        max(occurred_at) as last_event_at

    from events

),

-- Every 7th day after the first day of data that has events (the data is its own calendar).
as_of_dates as (

    select distinct
        events.occurred_on as as_of_date,
        cast(events.occurred_on as {{ dbt.type_timestamp() }}) as as_of_at,
        data_range.last_event_at

    from events
    cross join data_range
    where {{ dbt.datediff('data_range.first_date', 'events.occurred_on', 'day') }} > 0
        and mod(
            {{ dbt.datediff('data_range.first_date', 'events.occurred_on', 'day') }},
            {{ as_of_every_days }}
        ) = 0

),

enrolled as (

    select
        learner_key,
        course_id,
        min(enrolled_at) as enrolled_at

    from enrolments
    group by learner_key, course_id

),

first_ends as (

    select
        learner_key,
        course_id,
        min(ended_at) as first_ended_at

    from course_ends
    group by learner_key, course_id

),

course_modules as (

    select
        course_id,
        count(*) as modules_total

    from modules
    group by course_id

),

-- First completion of each catalog module.
catalog_completions as (

    select
        module_completions.learner_key,
        module_completions.course_id,
        module_completions.module_id,
        min(module_completions.completed_at) as completed_at

    from module_completions
    inner join modules
        on module_completions.course_id = modules.course_id
        and module_completions.module_id = modules.module_id
    group by
        module_completions.learner_key,
        module_completions.course_id,
        module_completions.module_id

),

first_starts as (

    select
        learner_key,
        course_id,
        module_id,
        min(started_at) as started_at

    from module_starts
    group by learner_key, course_id, module_id

),

-- Enrolments open at the as-of date: enrolled before it, not ended before it.
samples as (

    select
        as_of_dates.as_of_date,
        as_of_dates.as_of_at,
        as_of_dates.last_event_at,
        enrolled.learner_key,
        enrolled.course_id,
        enrolled.enrolled_at

    from enrolled
    inner join as_of_dates
        on enrolled.enrolled_at < as_of_dates.as_of_at
    left join first_ends
        on enrolled.learner_key = first_ends.learner_key
        and enrolled.course_id = first_ends.course_id
    where first_ends.first_ended_at is null
        or first_ends.first_ended_at >= as_of_dates.as_of_at

),

completions_before as (

    select
        samples.as_of_date,
        samples.learner_key,
        samples.course_id,
        count(*) as modules_done

    from samples
    inner join catalog_completions
        on samples.learner_key = catalog_completions.learner_key
        and samples.course_id = catalog_completions.course_id
        and catalog_completions.completed_at < samples.as_of_at
    group by samples.as_of_date, samples.learner_key, samples.course_id

),

starts_before as (

    select
        samples.as_of_date,
        samples.learner_key,
        samples.course_id,
        count(*) as modules_started

    from samples
    inner join first_starts
        on samples.learner_key = first_starts.learner_key
        and samples.course_id = first_starts.course_id
        and first_starts.started_at < samples.as_of_at
    group by samples.as_of_date, samples.learner_key, samples.course_id

),

quizzes_before as (

    select
        samples.as_of_date,
        samples.learner_key,
        samples.course_id,
        count(*) as quiz_submissions,
        avg(quiz_submissions.score) as quiz_average

    from samples
    inner join quiz_submissions
        on samples.learner_key = quiz_submissions.learner_key
        and samples.course_id = quiz_submissions.course_id
        and quiz_submissions.submitted_at < samples.as_of_at
    group by samples.as_of_date, samples.learner_key, samples.course_id

),

-- activity_date < as_of_date is the same as occurred_at < as_of_date (midnight).
activity_before as (

    select
        samples.as_of_date,
        samples.learner_key,
        samples.course_id,
        count(*) as active_days,
        sum(
            case
                when activity_daily.activity_date
                    >= {{ dbt.dateadd('day', -7, 'samples.as_of_date') }}
                    then 1
                else 0
            end
        ) as active_days_last_7d,
        sum(activity_daily.video_minutes) as video_minutes,
        max(activity_daily.last_activity_at) as last_activity_at

    from samples
    inner join activity_daily
        on samples.learner_key = activity_daily.learner_key
        and samples.course_id = activity_daily.course_id
        and activity_daily.activity_date < samples.as_of_date
    group by samples.as_of_date, samples.learner_key, samples.course_id

),

drops_after as (

    select
        samples.as_of_date,
        samples.learner_key,
        samples.course_id,
        count(*) as drops

    from samples
    inner join course_ends
        on samples.learner_key = course_ends.learner_key
        and samples.course_id = course_ends.course_id
        and course_ends.outcome = 'dropped'
        and course_ends.ended_at >= samples.as_of_at
        and course_ends.ended_at
            < {{ dbt.dateadd('day', label_window_days, 'samples.as_of_at') }}
    group by samples.as_of_date, samples.learner_key, samples.course_id

),

joined as (

    select
        samples.as_of_date,
        samples.learner_key,
        samples.course_id,
        {{ dbt.datediff('cast(samples.enrolled_at as date)', 'samples.as_of_date', 'day') }}
            as days_since_enrolment,
        coalesce(completions_before.modules_done, 0) as modules_done,
        coalesce(course_modules.modules_total, 0) as modules_total,
        case
            when course_modules.modules_total > 0
                then round(
                    100.0 * coalesce(completions_before.modules_done, 0)
                    / course_modules.modules_total,
                    1
                )
        end as percent_complete,
        coalesce(starts_before.modules_started, 0) as modules_started,
        coalesce(activity_before.active_days, 0) as active_days,
        coalesce(activity_before.active_days_last_7d, 0) as active_days_last_7d,
        {{ dbt.datediff(
            'cast(coalesce(activity_before.last_activity_at, samples.enrolled_at) as date)',
            'samples.as_of_date',
            'day'
        ) }} as days_since_last_activity,
        coalesce(activity_before.video_minutes, 0) as video_minutes,
        coalesce(quizzes_before.quiz_submissions, 0) as quiz_submissions,
        quizzes_before.quiz_average,
        samples.last_event_at
            >= {{ dbt.dateadd('day', label_window_days, 'samples.as_of_at') }}
            as is_label_complete,
        coalesce(drops_after.drops, 0) > 0 as has_drop_in_window

    from samples
    left join course_modules
        on samples.course_id = course_modules.course_id
    left join completions_before
        on samples.as_of_date = completions_before.as_of_date
        and samples.learner_key = completions_before.learner_key
        and samples.course_id = completions_before.course_id
    left join starts_before
        on samples.as_of_date = starts_before.as_of_date
        and samples.learner_key = starts_before.learner_key
        and samples.course_id = starts_before.course_id
    left join quizzes_before
        on samples.as_of_date = quizzes_before.as_of_date
        and samples.learner_key = quizzes_before.learner_key
        and samples.course_id = quizzes_before.course_id
    left join activity_before
        on samples.as_of_date = activity_before.as_of_date
        and samples.learner_key = activity_before.learner_key
        and samples.course_id = activity_before.course_id
    left join drops_after
        on samples.as_of_date = drops_after.as_of_date
        and samples.learner_key = drops_after.learner_key
        and samples.course_id = drops_after.course_id

),

final as (

    select
        -- grain: learner x course x as-of date
        learner_key,
        course_id,
        as_of_date,

        -- features: events before as_of_date only
        cast(days_since_enrolment as {{ dbt.type_int() }}) as days_since_enrolment,
        cast(modules_done as {{ dbt.type_int() }}) as modules_done,
        cast(modules_total as {{ dbt.type_int() }}) as modules_total,
        cast(percent_complete as double) as percent_complete,
        cast(modules_started as {{ dbt.type_int() }}) as modules_started,
        cast(active_days as {{ dbt.type_int() }}) as active_days,
        cast(active_days_last_7d as {{ dbt.type_int() }}) as active_days_last_7d,
        cast(days_since_last_activity as {{ dbt.type_int() }}) as days_since_last_activity,
        cast(round(video_minutes, 2) as double) as video_minutes,
        cast(quiz_submissions as {{ dbt.type_int() }}) as quiz_submissions,
        cast(quiz_average as double) as quiz_average,

        -- label: events in [as_of_date, as_of_date + 14 days) only
        is_label_complete,
        case
            when is_label_complete then has_drop_in_window
        end as dropped_within_14d

    from joined

)

select * from final
