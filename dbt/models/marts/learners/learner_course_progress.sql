-- One row per learner and course they enrolled in: where they are, what is left, and a status.
with

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

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

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

activity_daily as (

    select * from {{ ref('int_learner_course_activity_daily') }}

),

-- "Today" is the latest event in the warehouse, not now(): results are reproducible.
reference as (

    select * from {{ ref('int_reference_window') }}

),

enrolled as (

    select
        learner_key,
        course_id,
        min(enrolled_at) as enrolled_at

    from enrolments
    group by learner_key, course_id

),

course_modules as (

    select
        course_id,
        count(*) as modules_total

    from modules
    group by course_id

),

-- Catalog modules the learner completed (repeated completions count once).
modules_done as (

    select distinct
        module_completions.learner_key,
        module_completions.course_id,
        module_completions.module_id

    from module_completions
    inner join modules
        on module_completions.course_id = modules.course_id
        and module_completions.module_id = modules.module_id

),

done_counts as (

    select
        learner_key,
        course_id,
        count(*) as modules_done

    from modules_done
    group by learner_key, course_id

),

modules_not_done as (

    select
        enrolled.learner_key,
        enrolled.course_id,
        modules.module_id,
        modules.module_position,
        modules.module_title,
        modules.duration_minutes,
        row_number() over (
            partition by enrolled.learner_key, enrolled.course_id
            order by modules.module_position, modules.module_id
        ) as remaining_rank

    from enrolled
    inner join modules
        on enrolled.course_id = modules.course_id
    left join modules_done
        on enrolled.learner_key = modules_done.learner_key
        and modules.course_id = modules_done.course_id
        and modules.module_id = modules_done.module_id
    where modules_done.module_id is null

),

remaining as (

    select
        learner_key,
        course_id,
        sum(coalesce(duration_minutes, 0)) as minutes_remaining

    from modules_not_done
    group by learner_key, course_id

),

next_modules as (

    select * from modules_not_done
    where remaining_rank = 1

),

activity as (

    select
        learner_key,
        course_id,
        max(last_activity_at) as last_activity_at

    from activity_daily
    group by learner_key, course_id

),

quizzes as (

    select
        learner_key,
        course_id,
        avg(score) as quiz_average,
        count(*) as quiz_submissions

    from quiz_submissions
    group by learner_key, course_id

),

ends as (

    select
        learner_key,
        course_id,
        {{ dbt.bool_or('is_passed') }} as has_passed,
        {{ dbt.bool_or("outcome in ('dropped', 'fail')") }} as has_dropped_or_failed,
        max(ended_at) as ended_at

    from course_ends
    group by learner_key, course_id

),

joined as (

    select
        enrolled.learner_key,
        enrolled.course_id,
        enrolled.enrolled_at,
        coalesce(done_counts.modules_done, 0) as modules_done,
        coalesce(course_modules.modules_total, 0) as modules_total,
        case
            when course_modules.modules_total > 0
                then coalesce(remaining.minutes_remaining, 0)
        end as minutes_remaining,
        next_modules.module_id as next_module_id,
        next_modules.module_position as next_module_position,
        next_modules.module_title as next_module_title,
        next_modules.duration_minutes as next_module_duration_minutes,
        case
            when activity.last_activity_at > enrolled.enrolled_at then activity.last_activity_at
            else enrolled.enrolled_at
        end as last_activity_at,
        quizzes.quiz_average,
        coalesce(quizzes.quiz_submissions, 0) as quiz_submissions,
        coalesce(ends.has_passed, false) as has_passed,
        coalesce(ends.has_dropped_or_failed, false) as has_dropped_or_failed,
        ends.ended_at,
        reference.reference_date

    from enrolled
    cross join reference
    left join course_modules
        on enrolled.course_id = course_modules.course_id
    left join done_counts
        on enrolled.learner_key = done_counts.learner_key
        and enrolled.course_id = done_counts.course_id
    left join remaining
        on enrolled.learner_key = remaining.learner_key
        and enrolled.course_id = remaining.course_id
    left join next_modules
        on enrolled.learner_key = next_modules.learner_key
        and enrolled.course_id = next_modules.course_id
    left join activity
        on enrolled.learner_key = activity.learner_key
        and enrolled.course_id = activity.course_id
    left join quizzes
        on enrolled.learner_key = quizzes.learner_key
        and enrolled.course_id = quizzes.course_id
    left join ends
        on enrolled.learner_key = ends.learner_key
        and enrolled.course_id = ends.course_id

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
