-- One row per enrolment date old enough to judge: how many of that day's enrolments were
-- completed within `completion_horizon_days` (a dbt var, default 7) of enrolling. A fixed horizon,
-- counted only for enrolments at least that many days before the reference date, so recent days
-- do not look worse merely because their learners have not had time to finish yet (the drift
-- check compares these, not raw completions per day).
with

judged as (

    select * from {{ ref('int_enrolments_judged_at_horizon') }}

),

final as (

    select
        enrolment_date,
        cast({{ var('completion_horizon_days') }} as {{ dbt.type_int() }}) as horizon_days,
        cast(count(*) as {{ dbt.type_bigint() }}) as enrolment_count,
        cast(
            sum(case when is_completed_within_horizon then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as completed_within_horizon_count,
        cast(sum(case when is_completed_within_horizon then 1 else 0 end) as double) / count(*)
            as completion_rate_within_horizon

    from judged
    group by 1

)

select * from final
