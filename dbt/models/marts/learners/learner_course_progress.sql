-- One row per learner and course they enrolled in: where they are, what is left, and a status.
with

outcomes as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

module_progress as (

    select * from {{ ref('int_enrolments_joined_to_modules') }}

),

activity_daily as (

    select * from {{ ref('int_learner_course_activity_daily') }}

),

-- "Today" is the latest event in the warehouse, not now(): results are reproducible.
reference as (

    select * from {{ ref('int_reference_window') }}

),

activity as (

    select
        learner_key,
        course_id,
        max(last_activity_at) as last_activity_at

    from activity_daily
    group by learner_key, course_id

),

joined as (

    select
        outcomes.learner_key,
        outcomes.course_id,
        outcomes.enrolled_at,
        module_progress.modules_done,
        module_progress.modules_total,
        module_progress.minutes_remaining,
        module_progress.next_module_id,
        module_progress.next_module_position,
        module_progress.next_module_title,
        module_progress.next_module_duration_minutes,
        case
            when activity.last_activity_at > outcomes.enrolled_at then activity.last_activity_at
            else outcomes.enrolled_at
        end as last_activity_at,
        outcomes.quiz_average,
        outcomes.quiz_attempt_count as quiz_submissions,
        outcomes.has_passed,
        outcomes.has_dropped_or_failed,
        outcomes.last_ended_at as ended_at,
        reference.reference_date

    from outcomes
    cross join reference
    inner join module_progress
        on outcomes.learner_key = module_progress.learner_key
        and outcomes.course_id = module_progress.course_id
    left join activity
        on outcomes.learner_key = activity.learner_key
        and outcomes.course_id = activity.course_id

),

measured as (

    select
        *,
        case
            when modules_total > 0
                then round(100.0 * modules_done / modules_total, 1)
        end as percent_complete,
        {{ dbt.datediff('cast(last_activity_at as date)', 'reference_date', 'day') }}
            as days_inactive

    from joined

),

classified as (

    select
        *,
        case
            when has_passed or (modules_total > 0 and modules_done = modules_total)
                then 'completed'
            when has_dropped_or_failed then 'dropped'
            when days_inactive >= 14 then 'stalled'
            else 'active'
        end as status

    from measured

),

final as (

    select
        -- grain: learner x course
        learner_key,
        course_id,
        enrolled_at,
        cast({{ dbt.date_trunc('month', 'enrolled_at') }} as date) as enrolment_month,

        -- progress through the catalog's modules
        cast(modules_done as {{ dbt.type_int() }}) as modules_done,
        cast(modules_total as {{ dbt.type_int() }}) as modules_total,
        cast(percent_complete as double) as percent_complete,
        cast(minutes_remaining as double) as minutes_remaining,
        next_module_id,
        cast(next_module_position as {{ dbt.type_int() }}) as next_module_position,
        next_module_title,
        cast(next_module_duration_minutes as double) as next_module_duration_minutes,

        -- activity
        last_activity_at,
        cast(days_inactive as {{ dbt.type_int() }}) as days_inactive,
        cast(quiz_submissions as {{ dbt.type_int() }}) as quiz_submissions,
        cast(quiz_average as double) as quiz_average,
        ended_at,

        -- classification
        status,
        case
            when percent_complete < 25 then '0-25'
            when percent_complete < 50 then '25-50'
            when percent_complete < 75 then '50-75'
            when percent_complete >= 75 then '75-100'
        end as progress_band,
        case
            when days_inactive <= 7 then 'active'
            when days_inactive <= 21 then 'cooling'
            else 'dormant'
        end as activity_band,
        (
            status in ('active', 'stalled')
            and days_inactive >= 7
            and coalesce(percent_complete, 0) < 50
        ) as is_at_risk,
        reference_date

    from classified

)

select * from final
