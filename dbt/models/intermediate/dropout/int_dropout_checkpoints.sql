-- One row per learner x course x checkpoint, for enrolments still open at the checkpoint: the
-- samples of the dropout model (int_dropout_checkpoints_joined_to_coursework adds their
-- coursework, ml_dropout_checkpoint_features types them). A checkpoint is a fraction of the
-- course length after the learner's course clock started (ml_course_calendars): 10%, 25%, 50%
-- and 75% for training and evaluation, and `current` (the latest event in the warehouse) for
-- scoring open enrolments.
--
-- Besides its clock and label window, each sample carries what is known of the enrolment and the
-- learner at the checkpoint's date, outside the course's own coursework: the first attempt's
-- details, the learner's other enrolments (ended, or still open) and the peers' drops. Where
-- "first" ties in time, the lower event id decides, so the same events give the same rows.
--
-- Peers: the other learners of the same course whose clock started the same day (everyone in a
-- cohort course; the same day's enrolments in a self-paced one), taken at the same checkpoint
-- date, so they too see only days before it.
{% set checkpoints = [('p10', 0.10), ('p25', 0.25), ('p50', 0.50), ('p75', 0.75)] %}
{% set min_horizon_days = 14 %}

with

enrolled as (

    select * from {{ ref('int_enrolments_deduplicated') }}

),

first_ends as (

    select * from {{ ref('int_course_ends_deduplicated') }}

),

enrolment_attempts as (

    select * from {{ ref('stg_pathwise__enrolment_attempts') }}

),

calendars as (

    select * from {{ ref('ml_course_calendars') }}

),

reference as (

    select * from {{ ref('int_reference_window') }}

),

data_range as (

    select window_end_at as last_event_at from reference

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
        and (
            checkpoint_times.ended_at is null
            or checkpoint_times.ended_at >= checkpoint_times.as_of_at
        )

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
        and samples.as_of_date > first_ends.ended_at
    group by samples.learner_key, samples.course_id, samples.checkpoint

),

-- The learner's other enrolments open at the checkpoint's date (their workload elsewhere).
concurrent_before as (

    select
        samples.learner_key,
        samples.course_id,
        samples.checkpoint,
        count(*) as concurrent_enrolments

    from samples
    inner join enrolled as other_enrolments
        on samples.learner_key = other_enrolments.learner_key
        and samples.course_id != other_enrolments.course_id
        and samples.as_of_date > other_enrolments.enrolled_at
    left join first_ends
        on other_enrolments.learner_key = first_ends.learner_key
        and other_enrolments.course_id = first_ends.course_id
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
        and peer_groups.as_of_date > clocks.enrolled_at
        and (clocks.ended_at is null or clocks.ended_at >= clocks.clock_start_at)
    group by peer_groups.course_id, peer_groups.clock_start_date, peer_groups.as_of_date

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
        first_attempts.attempt_number,
        first_attempts.studied_credits,
        coalesce(history_before.prior_courses_ended, 0) as prior_courses_ended,
        coalesce(history_before.prior_drops, 0) as prior_drops,
        coalesce(concurrent_before.concurrent_enrolments, 0) as concurrent_enrolments,
        peer_drops.peers,
        peer_drops.peers_dropped

    from samples
    left join first_attempts
        on samples.learner_key = first_attempts.learner_key
        and samples.course_id = first_attempts.course_id
    left join history_before
        on samples.learner_key = history_before.learner_key
        and samples.course_id = history_before.course_id
        and samples.checkpoint = history_before.checkpoint
    left join concurrent_before
        on samples.learner_key = concurrent_before.learner_key
        and samples.course_id = concurrent_before.course_id
        and samples.checkpoint = concurrent_before.checkpoint
    left join peer_drops
        on samples.course_id = peer_drops.course_id
        and cast(samples.clock_start_at as date) = peer_drops.clock_start_date
        and samples.as_of_date = peer_drops.as_of_date

)

select * from final
