-- One row per enrolment date old enough to judge: how many of that day's enrolments were
-- completed within `completion_horizon_days` (a dbt var, default 7) of enrolling. A fixed horizon,
-- counted only for enrolments at least that many days before the reference date, so recent days
-- do not look worse merely because their learners have not had time to finish yet (the drift
-- check compares these, not raw completions per day).
{%- set horizon = var('completion_horizon_days') %}

with

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

reference_window as (

    select * from {{ ref('int_reference_window') }}

),

judged as (

    select
        cast(enrolments.enrolled_at as date) as enrolment_date,
        case
            when
                enrolments.completed_at
                <= {{ dbt.dateadd('day', horizon, 'enrolments.enrolled_at') }}
                then 1
            else 0
        end as is_completed_within_horizon

    from enrolments
    cross join reference_window
    where
        enrolments.enrolled_at
        <= {{ dbt.dateadd('day', -horizon, 'reference_window.window_end_at') }}

),

final as (

    select
        enrolment_date,
        cast({{ horizon }} as {{ dbt.type_int() }}) as horizon_days,
        cast(count(*) as {{ dbt.type_bigint() }}) as enrolment_count,
        cast(sum(is_completed_within_horizon) as {{ dbt.type_bigint() }})
            as completed_within_horizon_count,
        cast(sum(is_completed_within_horizon) as double) / count(*)
            as completion_rate_within_horizon

    from judged
    group by 1

)

select * from final
