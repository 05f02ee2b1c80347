-- One row per skill and week: the weekly series behind content briefs' demand forecasts
-- (agents/briefs). Weeks count back from the latest event in the warehouse (`weeks_ago` 0 is the
-- 7 days content_gaps calls `7d`, 1 its `prev_7d`), so every week but the oldest is whole; the
-- oldest is whole only if data starts at or before its start (`is_full_week`). Skills with any
-- search, forum post or enrolment; every week from the first with data to the latest, zeros
-- included (a forecast needs the quiet weeks). Counts only: no learner identifiers.
with

mentions as (

    select * from {{ ref('int_skill_mentions_unioned') }}

),

enrolments as (

    select * from {{ ref('int_enrolments_deduplicated') }}

),

course_skills as (

    select * from {{ ref('stg_pathwise__course_skills') }}

),

skills as (

    select * from {{ ref('int_skills_unioned') }}

),

time_window as (

    select * from {{ ref('int_reference_window') }}

),

skill_courses as (

    select distinct
        {{ skill_key('skill_name') }} as skill_key,
        course_id

    from course_skills

),

signals as (

    select
        skill_key,
        mentioned_at as happened_at,
        case when mention_source = 'search' then 1 else 0 end as is_search,
        case when mention_source = 'search' and is_low_result then 1 else 0 end as is_low_result,
        case when mention_source = 'forum_post' then 1 else 0 end as is_forum_post,
        0 as is_enrolment

    from mentions

    union all

    select
        skill_courses.skill_key,
        enrolments.enrolled_at as happened_at,
        0 as is_search,
        0 as is_low_result,
        0 as is_forum_post,
        1 as is_enrolment

    from enrolments
    inner join skill_courses
        on enrolments.course_id = skill_courses.course_id

),

-- Week 0 holds (end - 7 days, end], week 1 the 7 days before, ...
weekly as (

    select
        signals.skill_key,
        cast(floor(
            {{ dbt.datediff('signals.happened_at', 'time_window.window_end_at', 'second') }}
            / (7 * 86400.0)
        ) as {{ dbt.type_int() }}) as weeks_ago,
        sum(signals.is_search) as search_count,
        sum(signals.is_low_result) as low_result_search_count,
        sum(signals.is_forum_post) as forum_post_count,
        sum(signals.is_enrolment) as enrolment_count

    from signals
    cross join time_window
    where signals.happened_at <= time_window.window_end_at
    group by 1, 2

),

data_start as (

    select min(happened_at) as first_at from signals

),

-- Every week with a signal of any skill: on a live platform that is every week.
week_numbers as (

    select distinct weeks_ago from weekly

),

skill_weeks as (

    select
        weekly_skills.skill_key,
        week_numbers.weeks_ago

    from (select skill_key, max(weeks_ago) as first_week from weekly group by 1) as weekly_skills
    inner join week_numbers
        on week_numbers.weeks_ago <= weekly_skills.first_week

),

final as (

    select
        cast(skill_weeks.skill_key as {{ dbt.type_string() }}) as skill_key,
        cast(skills.skill_name as {{ dbt.type_string() }}) as skill_name,
        cast(skill_weeks.weeks_ago as {{ dbt.type_int() }}) as weeks_ago,
        cast(
            {{ dbt.dateadd('day', '-7 * (skill_weeks.weeks_ago + 1)', 'time_window.window_end_at') }}
            as {{ dbt.type_timestamp() }}
        ) as week_start_at,
        cast(
            {{ dbt.dateadd('day', '-7 * skill_weeks.weeks_ago', 'time_window.window_end_at') }}
            as {{ dbt.type_timestamp() }}
        ) as week_end_at,
        cast(
            {{ dbt.dateadd('day', '-7 * (skill_weeks.weeks_ago + 1)', 'time_window.window_end_at') }}
            >= data_start.first_at
            as {{ dbt.type_boolean() }}
        ) as is_full_week,
        cast(coalesce(weekly.search_count, 0) as {{ dbt.type_bigint() }}) as search_count,
        cast(coalesce(weekly.low_result_search_count, 0) as {{ dbt.type_bigint() }})
            as low_result_search_count,
        cast(coalesce(weekly.forum_post_count, 0) as {{ dbt.type_bigint() }}) as forum_post_count,
        cast(coalesce(weekly.enrolment_count, 0) as {{ dbt.type_bigint() }}) as enrolment_count

    from skill_weeks
    inner join skills
        on skill_weeks.skill_key = skills.skill_key
    cross join time_window
    cross join data_start
    left join weekly
        on skill_weeks.skill_key = weekly.skill_key
        and skill_weeks.weeks_ago = weekly.weeks_ago

)

select * from final
