-- Rows for the dropout model: one per learner x course x checkpoint, for enrolments still open
-- at the checkpoint. A checkpoint is a fraction of the course length after the learner's course
-- clock started (ml_course_calendars): 10%, 25%, 50% and 75% for training and evaluation, and
-- `current` (the latest event in the warehouse) for scoring open enrolments.
--
-- Built in steps: int_dropout_checkpoints (the samples, their label window, the learner's other
-- enrolments and the peers' drops), then int_dropout_checkpoints_joined_to_coursework (activity,
-- progress, quizzes, deadlines); this model types the features, sets the label and compares each
-- learner with the peers.
--
-- Reproducible: the same events give the same rows, to the last digit.
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
{% set inactive_days_cap = 365 %}

with

profiling_objections as (

    select * from {{ ref('int_learners_objecting_to_profiling') }}

),

checkpoints as (

    select * from {{ ref('int_dropout_checkpoints_joined_to_coursework') }}

),

features as (

    select
        -- grain: learner x course x checkpoint
        learner_key,
        course_id,
        checkpoint,
        as_of_at,
        clock_start_at,

        -- features: whole days before as_of_date, events before as_of_at
        cast(
            {{ dbt.datediff(
                'clock_start_at', 'as_of_at', 'second'
            ) }} / 86400.0 / length_days as double
        ) as course_fraction,
        cast(length_days as double) as length_days,
        cast(
            {{ dbt.datediff(
                'clock_start_at', 'enrolled_at', 'second'
            ) }} / 86400.0 as double
        ) as enrolled_days_from_start,
        cast(active_days as {{ dbt.type_int() }}) as active_days,
        cast(events as {{ dbt.type_int() }}) as events,
        cast(events_last_7d as {{ dbt.type_int() }}) as events_last_7d,
        cast(events_last_14d as {{ dbt.type_int() }}) as events_last_14d,
        cast(
            least(
                {{ dbt.datediff(
                    'coalesce(last_active_date, '
                    ~ 'cast(greatest(enrolled_at, clock_start_at) as date))',
                    'as_of_date',
                    'day'
                ) }},
                {{ inactive_days_cap }}
            ) as {{ dbt.type_int() }}
        ) as days_inactive,
        cast(modules_total as {{ dbt.type_int() }}) as modules_total,
        cast(modules_done as {{ dbt.type_int() }}) as modules_done,
        cast(share_done as double) as share_done,
        cast(quiz_submissions as {{ dbt.type_int() }}) as quiz_submissions,
        cast(quiz_average as double) as quiz_average,
        cast(quiz_min as double) as quiz_min,
        cast(quiz_last as double) as quiz_last,
        cast(prior_courses_ended as {{ dbt.type_int() }}) as prior_courses_ended,
        cast(prior_drops as {{ dbt.type_int() }}) as prior_drops,
        cast(attempt_number - 1 as {{ dbt.type_int() }}) as previous_attempts,
        cast(studied_credits as {{ dbt.type_int() }}) as studied_credits,
        cast(concurrent_enrolments as {{ dbt.type_int() }}) as concurrent_enrolments,
        cast(assessments_due as {{ dbt.type_int() }}) as assessments_due,
        cast(assessments_overdue as {{ dbt.type_int() }}) as assessments_overdue,
        cast(submitted_late as {{ dbt.type_int() }}) as submitted_late,
        cast(submitted_ahead as {{ dbt.type_int() }}) as submitted_ahead,
        cast(days_overdue as {{ dbt.type_int() }}) as days_overdue,
        cast(days_to_next_due as {{ dbt.type_int() }}) as days_to_next_due,
        cast(peers_dropped / peers as double) as peer_drop_share,

        -- label: events in [as_of_at, label_until] only
        label_until,
        last_event_at >= label_until as is_label_known,
        case
            when last_event_at >= label_until
                then coalesce(ended_at <= label_until and outcome = 'dropped', false)
        end as dropped

    from checkpoints

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
    left join profiling_objections
        on features.learner_key = profiling_objections.learner_key
    where profiling_objections.learner_key is null
    window peers as (
        partition by
            features.course_id,
            cast(features.clock_start_at as date),
            cast(features.as_of_at as date)
    )

)

select * from final
