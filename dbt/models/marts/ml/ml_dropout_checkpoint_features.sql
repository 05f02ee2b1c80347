-- Rows for the dropout model: one per learner x course x checkpoint, for enrolments still open
-- at the checkpoint. A checkpoint is a fraction of the course length after the learner's course
-- clock started (ml_course_calendars): 10%, 25%, 50% and 75% for training and evaluation, and
-- `current` (the latest event in the warehouse) for scoring open enrolments.
--
-- Reproducible: the same events give the same rows, to the last digit. Where "first" or "last"
-- ties in time (OULAD dates submissions by the day), the event id decides, not the order rows
-- happen to arrive in; averages of scores are summed in decimals.
--
-- No leakage: features see only whole UTC days before the checkpoint's date (the day that holds
-- the checkpoint is left out whole). The label looks only from the checkpoint on: did the
-- enrolment end in a drop by `label_until`, the later of the course's end (clock start + length)
-- and 14 days after the checkpoint? It is known only once the data reaches `label_until`, so
-- recent enrolments that ended early (mostly drops) cannot bias the latest cohorts.
--
-- Peers: the other learners of the same course whose clock started the same day (everyone in a
-- cohort course; the same day's enrolments in a self-paced one). Peer features are taken at the
-- same checkpoint date, so they too see only days before it.
{% set checkpoints = [('p10', 0.10), ('p25', 0.25), ('p50', 0.50), ('p75', 0.75)] %}
{% set min_horizon_days = 14 %}
{% set inactive_days_cap = 365 %}

with

events_daily as (

    select * from {{ ref('int_learner_events_daily') }}

),

reference as (

    select * from {{ ref('int_reference_window') }}

),

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

enrolment_attempts as (

    select * from {{ ref('stg_pathwise__enrolment_attempts') }}

),

module_due_days as (

    select course_id, module_id, due_day from {{ ref('stg_pathwise__modules') }}
    where due_day is not null

),

calendars as (

    select * from {{ ref('ml_course_calendars') }}

),

data_range as (

    select window_end_at as last_event_at from reference

),

enrolled as (

    select
        learner_key,
        course_id,
        min(enrolled_at) as enrolled_at

    from enrolments
    group by learner_key, course_id

),

-- What the platform said at the first enrolment: attempt number and credits studied.
first_attempts as (

    select
        learner_key,
        course_id,
        arg_min(attempt_number, (enrolled_at, event_id)) as attempt_number,
        arg_min(studied_credits, (enrolled_at, event_id)) as studied_credits

    from enrolment_attempts
    group by learner_key, course_id

),

-- The first end of each enrolment and its outcome (completed with a result, or dropped).
first_ends as (

    select
        learner_key,
        course_id,
        min(ended_at) as ended_at,
        arg_min(outcome, (ended_at, event_id)) as outcome

    from course_ends
    group by learner_key, course_id

),

clocks as (

    select
        enrolled.learner_key,
        enrolled.course_id,
        enrolled.enrolled_at,
        case
            when calendars.schedule = 'cohort' then calendars.starts_at
            else enrolled.enrolled_at
        end as clock_start_at,
        calendars.length_days,
        first_ends.ended_at,
        first_ends.outcome

    from enrolled
    inner join calendars
        on enrolled.course_id = calendars.course_id
    left join first_ends
        on enrolled.learner_key = first_ends.learner_key
        and enrolled.course_id = first_ends.course_id
    where calendars.length_days > 0

),

checkpoint_times as (

    {% for name, fraction in checkpoints %}
    select
        clocks.*,
        '{{ name }}' as checkpoint,
        {{ dbt.dateadd(
            'second',
            'cast(round(' ~ fraction ~ ' * clocks.length_days * 86400) as bigint)',
            'clocks.clock_start_at'
        ) }} as as_of_at

    from clocks
    union all
    {% endfor %}

    -- Open enrolments now: the warehouse's own clock (its latest event) is "now".
    select
        clocks.*,
        'current' as checkpoint,
        data_range.last_event_at as as_of_at

    from clocks
    cross join data_range
    where clocks.ended_at is null

),

-- Enrolments open at the checkpoint, with the checkpoint in the observed past.
samples as (

    select
        checkpoint_times.*,
        cast(checkpoint_times.as_of_at as date) as as_of_date,
        greatest(
            {{ dbt.dateadd(
                'second',
                'cast(round(checkpoint_times.length_days * 86400) as bigint)',
                'checkpoint_times.clock_start_at'
            ) }},
            {{ dbt.dateadd('day', min_horizon_days, 'checkpoint_times.as_of_at') }}
        ) as label_until,
        data_range.last_event_at

    from checkpoint_times
    cross join data_range
    where checkpoint_times.enrolled_at < checkpoint_times.as_of_at
        and checkpoint_times.as_of_at <= data_range.last_event_at
        and (checkpoint_times.ended_at is null
            or checkpoint_times.ended_at >= checkpoint_times.as_of_at)

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
        and activity_daily.activity_date < samples.as_of_date
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

first_module_completions as (

    select
        module_completions.learner_key,
        module_completions.course_id,
        module_completions.module_id,
        min(module_completions.completed_at) as completed_at

    from module_completions
    group by
        module_completions.learner_key,
        module_completions.course_id,
        module_completions.module_id

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
    inner join first_module_completions
        on samples.learner_key = first_module_completions.learner_key
        and samples.course_id = first_module_completions.course_id
        and first_module_completions.completed_at < samples.as_of_date
    inner join catalog_modules
        on first_module_completions.course_id = catalog_modules.course_id
        and first_module_completions.module_id = catalog_modules.module_id
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
        and quiz_submissions.submitted_at < samples.as_of_date
        and quiz_submissions.score is not null
    group by samples.learner_key, samples.course_id, samples.checkpoint

),

-- The learner's record elsewhere: other enrolments that had ended before the checkpoint.
history_before as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        count(*) as prior_courses_ended,
        sum(case when first_ends.outcome = 'dropped' then 1 else 0 end) as prior_drops

    from samples
    inner join first_ends
        on samples.learner_key = first_ends.learner_key
        and samples.course_id != first_ends.course_id
        and first_ends.ended_at < samples.as_of_date
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
        select learner_key, course_id, module_id, completed_at as done_at
        from module_completions
        union all
        select learner_key, course_id, module_id, submitted_at as done_at
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

-- The learner's other enrolments open at the checkpoint's date (their workload elsewhere).
concurrent_before as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        count(*) as concurrent_enrolments

    from samples
    inner join enrolled as others
        on samples.learner_key = others.learner_key
        and samples.course_id != others.course_id
        and others.enrolled_at < samples.as_of_date
    left join first_ends
        on others.learner_key = first_ends.learner_key
        and others.course_id = first_ends.course_id
    where first_ends.ended_at is null or first_ends.ended_at >= samples.as_of_date
    group by samples.learner_key, samples.course_id, samples.checkpoint

),

-- Peers (same course and clock-start day) at the same checkpoint date: how many of those
-- still enrolled when their clock started had dropped before that date.
peer_groups as (

    select distinct
        course_id,
        cast(clock_start_at as date) as clock_start_date,
        as_of_date

    from samples

),

peer_drops as (

    select
        peer_groups.course_id,
        peer_groups.clock_start_date,
        peer_groups.as_of_date,
        count(*) as peers,
        sum(
            case
                when clocks.outcome = 'dropped' and clocks.ended_at < peer_groups.as_of_date
                    then 1
                else 0
            end
        ) as peers_dropped

    from peer_groups
    inner join clocks
        on peer_groups.course_id = clocks.course_id
        and peer_groups.clock_start_date = cast(clocks.clock_start_at as date)
        and clocks.enrolled_at < peer_groups.as_of_date
        and (clocks.ended_at is null or clocks.ended_at >= clocks.clock_start_at)
    group by peer_groups.course_id, peer_groups.clock_start_date, peer_groups.as_of_date

),

course_sizes as (

    select distinct
        course_id,
        modules_total

    from catalog_modules

),

features as (

    select
        -- grain: learner x course x checkpoint
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        samples.as_of_at,
        samples.clock_start_at,

        -- features: whole days before as_of_date, events before as_of_at
        cast(
            {{ dbt.datediff('samples.clock_start_at', 'samples.as_of_at', 'second') }}
            / 86400.0 / samples.length_days as double
        ) as course_fraction,
        cast(samples.length_days as double) as length_days,
        cast(
            {{ dbt.datediff('samples.clock_start_at', 'samples.enrolled_at', 'second') }}
            / 86400.0 as double
        ) as enrolled_days_from_start,
        cast(coalesce(activity_before.active_days, 0) as {{ dbt.type_int() }}) as active_days,
        cast(coalesce(activity_before.events, 0) as {{ dbt.type_int() }}) as events,
        cast(coalesce(activity_before.events_last_7d, 0) as {{ dbt.type_int() }})
            as events_last_7d,
        cast(coalesce(activity_before.events_last_14d, 0) as {{ dbt.type_int() }})
            as events_last_14d,
        cast(
            least(
                {{ dbt.datediff(
                    'coalesce(activity_before.last_active_date, '
                    ~ 'cast(greatest(samples.enrolled_at, samples.clock_start_at) as date))',
                    'samples.as_of_date',
                    'day'
                ) }},
                {{ inactive_days_cap }}
            ) as {{ dbt.type_int() }}
        ) as days_inactive,
        cast(coalesce(course_sizes.modules_total, 0) as {{ dbt.type_int() }}) as modules_total,
        cast(coalesce(progress_before.modules_done, 0) as {{ dbt.type_int() }}) as modules_done,
        cast(coalesce(progress_before.share_done, 0) as double) as share_done,
        cast(coalesce(quizzes_before.quiz_submissions, 0) as {{ dbt.type_int() }})
            as quiz_submissions,
        cast(quizzes_before.quiz_average as double) as quiz_average,
        cast(quizzes_before.quiz_min as double) as quiz_min,
        cast(quizzes_before.quiz_last as double) as quiz_last,
        cast(coalesce(history_before.prior_courses_ended, 0) as {{ dbt.type_int() }})
            as prior_courses_ended,
        cast(coalesce(history_before.prior_drops, 0) as {{ dbt.type_int() }}) as prior_drops,
        cast(first_attempts.attempt_number - 1 as {{ dbt.type_int() }}) as previous_attempts,
        cast(first_attempts.studied_credits as {{ dbt.type_int() }}) as studied_credits,
        cast(coalesce(concurrent_before.concurrent_enrolments, 0) as {{ dbt.type_int() }})
            as concurrent_enrolments,
        cast(coalesce(deadlines_before.assessments_due, 0) as {{ dbt.type_int() }})
            as assessments_due,
        cast(coalesce(deadlines_before.assessments_overdue, 0) as {{ dbt.type_int() }})
            as assessments_overdue,
        cast(coalesce(deadlines_before.submitted_late, 0) as {{ dbt.type_int() }})
            as submitted_late,
        cast(coalesce(deadlines_before.submitted_ahead, 0) as {{ dbt.type_int() }})
            as submitted_ahead,
        cast(deadlines_before.days_overdue as {{ dbt.type_int() }}) as days_overdue,
        cast(deadlines_before.days_to_next_due as {{ dbt.type_int() }}) as days_to_next_due,
        cast(peer_drops.peers_dropped / peer_drops.peers as double) as peer_drop_share,

        -- label: events in [as_of_at, label_until] only
        samples.label_until,
        samples.last_event_at >= samples.label_until as is_label_known,
        case
            when samples.last_event_at >= samples.label_until
                then coalesce(
                    samples.ended_at <= samples.label_until and samples.outcome = 'dropped',
                    false
                )
        end as dropped

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
    left join history_before
        on samples.learner_key = history_before.learner_key
        and samples.course_id = history_before.course_id
        and samples.checkpoint = history_before.checkpoint
    left join first_attempts
        on samples.learner_key = first_attempts.learner_key
        and samples.course_id = first_attempts.course_id
    left join concurrent_before
        on samples.learner_key = concurrent_before.learner_key
        and samples.course_id = concurrent_before.course_id
        and samples.checkpoint = concurrent_before.checkpoint
    left join deadlines_before
        on samples.learner_key = deadlines_before.learner_key
        and samples.course_id = deadlines_before.course_id
        and samples.checkpoint = deadlines_before.checkpoint
    left join peer_drops
        on samples.course_id = peer_drops.course_id
        and cast(samples.clock_start_at as date) = peer_drops.clock_start_date
        and samples.as_of_date = peer_drops.as_of_date

),

-- Where the learner stands among the peers with a row at the same checkpoint date (all of them
-- see only the days before it). The contract puts the columns in their documented order.
final as (

    select
        features.*,
        cast(avg(features.assessments_overdue) over peers as double) as peer_overdue_mean,
        cast(features.days_inactive - avg(features.days_inactive) over peers as double)
            as days_inactive_vs_peers,
        cast(features.quiz_submissions - avg(features.quiz_submissions) over peers as double)
            as submissions_vs_peers

    from features
    window peers as (
        partition by
            features.course_id,
            cast(features.clock_start_at as date),
            cast(features.as_of_at as date)
    )

)

select * from final
