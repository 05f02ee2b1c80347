-- One row per dropout checkpoint (int_dropout_checkpoints): the learner's coursework in the
-- course before the checkpoint's date — activity, modules done, quiz scores and deadlines on the
-- learner's own clock. Only whole UTC days before that date count (the day that holds the
-- checkpoint is left out whole), so nothing at or after the prediction time leaks in.
--
-- Reproducible: where "last" ties in time (OULAD dates submissions by the day), the event id
-- decides, not the order rows happen to arrive in; averages of scores are summed in decimals.
with

samples as (

    select * from {{ ref('int_dropout_checkpoints') }}

),

events_daily as (

    select * from {{ ref('int_learner_events_daily') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

-- First completions: a module completed again counts once, from the first.
module_completions as (

    select * from {{ ref('int_module_completions_deduplicated') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

module_due_days as (

    select
        course_id,
        module_id,
        due_day

    from modules
    where due_day is not null

),

-- Learner activity per course and UTC day: any event of the learner in the course except the
-- enrolment and its end (platform nudges carry no course).
activity_daily as (

    select
        learner_key,
        course_id,
        activity_date,
        sum(course_activity_events) as events

    from events_daily
    where course_activity_events > 0
    group by learner_key, course_id, activity_date

),

activity_before as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        count(*) as active_days,
        sum(activity_daily.events) as events,
        sum(
            case
                when activity_daily.activity_date
                    >= {{ dbt.dateadd('day', -7, 'samples.as_of_date') }}
                    then activity_daily.events
                else 0
            end
        ) as events_last_7d,
        sum(
            case
                when activity_daily.activity_date
                    >= {{ dbt.dateadd('day', -14, 'samples.as_of_date') }}
                    then activity_daily.events
                else 0
            end
        ) as events_last_14d,
        max(activity_daily.activity_date) as last_active_date

    from samples
    inner join activity_daily
        on samples.learner_key = activity_daily.learner_key
        and samples.course_id = activity_daily.course_id
        and samples.as_of_date > activity_daily.activity_date
    group by samples.learner_key, samples.course_id, samples.checkpoint

),

catalog_modules as (

    select
        course_id,
        module_id,
        coalesce(duration_minutes, 0) as duration_minutes,
        sum(coalesce(duration_minutes, 0)) over (partition by course_id) as course_minutes,
        count(*) over (partition by course_id) as modules_total

    from modules

),

progress_before as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        count(*) as modules_done,
        sum(catalog_modules.duration_minutes) / nullif(max(catalog_modules.course_minutes), 0)
            as share_done

    from samples
    inner join module_completions
        on samples.learner_key = module_completions.learner_key
        and samples.course_id = module_completions.course_id
        and samples.as_of_date > module_completions.completed_at
    inner join catalog_modules
        on module_completions.course_id = catalog_modules.course_id
        and module_completions.module_id = catalog_modules.module_id
    group by samples.learner_key, samples.course_id, samples.checkpoint

),

quizzes_before as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        count(*) as quiz_submissions,
        -- in decimals: a sum of doubles depends on the order it is added up in
        cast(avg(cast(quiz_submissions.score as decimal(18, 9))) as double) as quiz_average,
        min(quiz_submissions.score) as quiz_min,
        arg_max(
            quiz_submissions.score, (quiz_submissions.submitted_at, quiz_submissions.event_id)
        ) as quiz_last

    from samples
    inner join quiz_submissions
        on samples.learner_key = quiz_submissions.learner_key
        and samples.course_id = quiz_submissions.course_id
        and samples.as_of_date > quiz_submissions.submitted_at
        and quiz_submissions.score is not null
    group by samples.learner_key, samples.course_id, samples.checkpoint

),

-- Work handed in for a module: its first completion or quiz submission.
module_work as (

    select
        learner_key,
        course_id,
        module_id,
        min(done_at) as done_at

    from (
        select
            learner_key,
            course_id,
            module_id,
            completed_at as done_at
        from module_completions
        union all
        select
            learner_key,
            course_id,
            module_id,
            submitted_at as done_at
        from quiz_submissions
        where module_id is not null
    ) as handed_in
    group by learner_key, course_id, module_id

),

-- Each sample's deadlines on the learner's own clock: a module is due on the date `due_day`
-- days after the clock start, overdue once that whole date has passed without its work.
deadlines as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        samples.as_of_date,
        cast(
            {{ dbt.dateadd(
                'second',
                'cast(round(module_due_days.due_day * 86400) as bigint)',
                'samples.clock_start_at'
            ) }} as date
        ) as due_date,
        case
            when module_work.done_at < samples.as_of_date
                then cast(module_work.done_at as date)
        end as done_date

    from samples
    inner join module_due_days
        on samples.course_id = module_due_days.course_id
    left join module_work
        on samples.learner_key = module_work.learner_key
        and samples.course_id = module_work.course_id
        and module_due_days.module_id = module_work.module_id

),

deadlines_before as (

    select
        learner_key,
        course_id,
        checkpoint,
        sum(case when due_date < as_of_date then 1 else 0 end) as assessments_due,
        sum(case when due_date < as_of_date and done_date is null then 1 else 0 end)
            as assessments_overdue,
        sum(case when due_date < as_of_date and done_date > due_date then 1 else 0 end)
            as submitted_late,
        sum(case when due_date >= as_of_date and done_date is not null then 1 else 0 end)
            as submitted_ahead,
        {{ dbt.datediff(
            'min(case when due_date < as_of_date and done_date is null then due_date end)',
            'max(as_of_date)',
            'day'
        ) }} as days_overdue,
        {{ dbt.datediff(
            'max(as_of_date)',
            'min(case when due_date >= as_of_date then due_date end)',
            'day'
        ) }} as days_to_next_due

    from deadlines
    group by learner_key, course_id, checkpoint

),

course_sizes as (

    select distinct
        course_id,
        modules_total

    from catalog_modules

),

final as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        samples.enrolled_at,
        samples.clock_start_at,
        samples.length_days,
        samples.ended_at,
        samples.outcome,
        samples.as_of_at,
        samples.as_of_date,
        samples.label_until,
        samples.last_event_at,
        samples.attempt_number,
        samples.studied_credits,
        samples.prior_courses_ended,
        samples.prior_drops,
        samples.concurrent_enrolments,
        samples.peers,
        samples.peers_dropped,
        coalesce(course_sizes.modules_total, 0) as modules_total,
        coalesce(activity_before.active_days, 0) as active_days,
        coalesce(activity_before.events, 0) as events,
        coalesce(activity_before.events_last_7d, 0) as events_last_7d,
        coalesce(activity_before.events_last_14d, 0) as events_last_14d,
        activity_before.last_active_date,
        coalesce(progress_before.modules_done, 0) as modules_done,
        coalesce(progress_before.share_done, 0) as share_done,
        coalesce(quizzes_before.quiz_submissions, 0) as quiz_submissions,
        quizzes_before.quiz_average,
        quizzes_before.quiz_min,
        quizzes_before.quiz_last,
        coalesce(deadlines_before.assessments_due, 0) as assessments_due,
        coalesce(deadlines_before.assessments_overdue, 0) as assessments_overdue,
        coalesce(deadlines_before.submitted_late, 0) as submitted_late,
        coalesce(deadlines_before.submitted_ahead, 0) as submitted_ahead,
        deadlines_before.days_overdue,
        deadlines_before.days_to_next_due

    from samples
    left join course_sizes
        on samples.course_id = course_sizes.course_id
    left join activity_before
        on samples.learner_key = activity_before.learner_key
        and samples.course_id = activity_before.course_id
        and samples.checkpoint = activity_before.checkpoint
    left join progress_before
        on samples.learner_key = progress_before.learner_key
        and samples.course_id = progress_before.course_id
        and samples.checkpoint = progress_before.checkpoint
    left join quizzes_before
        on samples.learner_key = quizzes_before.learner_key
        and samples.course_id = quizzes_before.course_id
        and samples.checkpoint = quizzes_before.checkpoint
    left join deadlines_before
        on samples.learner_key = deadlines_before.learner_key
        and samples.course_id = deadlines_before.course_id
        and samples.checkpoint = deadlines_before.checkpoint

)

select * from final
