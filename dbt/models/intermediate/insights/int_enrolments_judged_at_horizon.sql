-- One row per first enrolment (learner x course) at least `completion_horizon_days` (a dbt var,
-- default 7) before the reference date, old enough to judge: whether it was completed within that
-- many days of enrolling. Input to `completion_horizon_kpis`.
{%- set horizon = var('completion_horizon_days') %}

with

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

reference_window as (

    select * from {{ ref('int_reference_window') }}

),

final as (

    select
        enrolments.learner_key,
        enrolments.course_id,
        enrolments.enrolled_at,
        cast(enrolments.enrolled_at as date) as enrolment_date,
        coalesce(
            enrolments.completed_at
            <= {{ dbt.dateadd('day', horizon, 'enrolments.enrolled_at') }},
            false
        ) as is_completed_within_horizon

    from enrolments
    cross join reference_window
    where
        enrolments.enrolled_at
        <= {{ dbt.dateadd('day', -horizon, 'reference_window.window_end_at') }}

)

select * from final
