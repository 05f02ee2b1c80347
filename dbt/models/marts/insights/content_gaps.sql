-- One row per skill (taxonomy and catalog skills): demand for it (searches, forum posts, job
-- market), supply of it (courses teaching it, and how well they do), and the gap between them
-- (`gap_score`, see the `gap_score` doc block) with its trend over the last 7 days vs the 7
-- before, relative to the latest event in the warehouse. Scores are rounded to 6 decimals.
-- Beside them, not in the score: how many learners' learning-path goals need the skill while no
-- course teaches it (the `paths` agent's last count; k-anonymous there).
{% set windows = ['all', '7d', 'prev_7d'] -%}

with

skills as (

    select * from {{ ref('int_skills_unioned') }}

),

mentions as (

    select * from {{ ref('int_skill_mentions_unioned') }}

),

job_demand as (

    select * from {{ ref('int_skills_job_demand_counted') }}

),

course_skills as (

    select * from {{ ref('stg_pathwise__course_skills') }}

),

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

time_window as (

    select * from {{ ref('int_reference_window') }}

),

uncovered_skill_demand as (

    select * from {{ ref('stg_agents__uncovered_skill_demand') }}

),

mentions_windowed as (

    select
        mentions.*,
        mentions.mentioned_at > time_window.window_7d_start_at as is_in_7d,
        (
            mentions.mentioned_at > time_window.window_prev_7d_start_at
            and mentions.mentioned_at <= time_window.window_7d_start_at
        ) as is_in_prev_7d

    from mentions
    cross join time_window

),

search_demand as (

    select
        skill_key,
        count(distinct event_id) as search_count_all,
        count(distinct case when is_zero_result then event_id end) as zero_result_count,
        count(distinct case when is_low_result then event_id end) as low_result_count_all,
        count(distinct case when is_in_7d then event_id end) as search_count_7d,
        count(distinct case when is_in_7d and is_low_result then event_id end)
            as low_result_count_7d,
        count(distinct case when is_in_prev_7d then event_id end) as search_count_prev_7d,
        count(distinct case when is_in_prev_7d and is_low_result then event_id end)
            as low_result_count_prev_7d

    from mentions_windowed
    where mention_source = 'search'
    group by 1

),

forum_demand as (

    select
        skill_key,
        count(distinct event_id) as forum_post_count_all,
        count(distinct case when is_in_7d then event_id end) as forum_post_count_7d,
        count(distinct case when is_in_prev_7d then event_id end) as forum_post_count_prev_7d

    from mentions_windowed
    where mention_source = 'forum_post'
    group by 1

),

course_outcomes as (

    select
        course_id,
        count(*) as enrolment_count,
        sum(case when is_completed then 1 else 0 end) as completion_count,
        sum(stars) as stars_sum,
        count(stars) as rating_count

    from enrolments
    group by 1

),

skill_courses as (

    select distinct
        {{ skill_key('skill_name') }} as skill_key,
        course_id

    from course_skills

),

-- Every instructor sees these scores (k-anonymity, doc block `k_anonymity`): a course adds to
-- a skill's completion rate only from k enrolments, and to its rating only from k ratings.
supply as (

    select
        skill_courses.skill_key,
        count(*) as course_count,
        cast(sum(case
            when course_outcomes.enrolment_count >= {{ var('k_anonymity') }}
                then course_outcomes.completion_count
        end) as double)
        / nullif(sum(case
            when course_outcomes.enrolment_count >= {{ var('k_anonymity') }}
                then course_outcomes.enrolment_count
        end), 0) as course_completion_rate,
        cast(sum(case
            when course_outcomes.rating_count >= {{ var('k_anonymity') }}
                then course_outcomes.stars_sum
        end) as double)
        / nullif(sum(case
            when course_outcomes.rating_count >= {{ var('k_anonymity') }}
                then course_outcomes.rating_count
        end), 0) as course_avg_rating

    from skill_courses
    left join course_outcomes
        on skill_courses.course_id = course_outcomes.course_id
    group by 1

),

combined as (

    select
        skills.skill_key,
        skills.skill_name,
        skills.skill_id,
        skills.skill_category,
        skills.is_in_taxonomy,
        skills.is_in_catalog,
        coalesce(search_demand.search_count_all, 0) as search_count_all,
        coalesce(search_demand.zero_result_count, 0) as zero_result_count,
        coalesce(search_demand.low_result_count_all, 0) as low_result_count_all,
        coalesce(search_demand.search_count_7d, 0) as search_count_7d,
        coalesce(search_demand.low_result_count_7d, 0) as low_result_count_7d,
        coalesce(search_demand.search_count_prev_7d, 0) as search_count_prev_7d,
        coalesce(search_demand.low_result_count_prev_7d, 0) as low_result_count_prev_7d,
        coalesce(forum_demand.forum_post_count_all, 0) as forum_post_count_all,
        coalesce(forum_demand.forum_post_count_7d, 0) as forum_post_count_7d,
        coalesce(forum_demand.forum_post_count_prev_7d, 0) as forum_post_count_prev_7d,
        coalesce(job_demand.occupation_count, 0) as job_occupation_count,
        coalesce(job_demand.hot_technology_count, 0) as job_hot_technology_count,
        coalesce(job_demand.in_demand_count, 0) as job_in_demand_count,
        coalesce(job_demand.job_demand, 0) as job_demand,
        coalesce(supply.course_count, 0) as course_count,
        supply.course_completion_rate,
        supply.course_avg_rating,
        -- Course quality in [0, 1]: the mean of the completion rate and the rating rescaled to
        -- [0, 1], of whichever is known; 0.5 (neutral) when neither is.
        coalesce(
            (
                coalesce(supply.course_completion_rate, 0)
                + coalesce((supply.course_avg_rating - 1) / 4.0, 0)
            )
            / nullif(
                case when supply.course_completion_rate is not null then 1 else 0 end
                + case when supply.course_avg_rating is not null then 1 else 0 end,
                0
            ),
            0.5
        ) as course_quality

    from skills
    left join search_demand
        on skills.skill_key = search_demand.skill_key
    left join forum_demand
        on skills.skill_key = forum_demand.skill_key
    left join job_demand
        on skills.skill_id = job_demand.skill_id
    left join supply
        on skills.skill_key = supply.skill_key

),

-- Two taxonomy names could normalize alike: the larger count, never their sum (one learner
-- may need both).
path_demand as (

    select
        {{ skill_key('skill_name') }} as skill_key,
        max(path_learner_count) as path_learner_count,
        max(computed_at) as path_demand_computed_at

    from uncovered_skill_demand
    group by 1

),

maxima as (

    select
        {% for w in windows %}
        max(search_count_{{ w }}) as max_search_count_{{ w }},
        max(low_result_count_{{ w }}) as max_low_result_count_{{ w }},
        max(forum_post_count_{{ w }}) as max_forum_post_count_{{ w }},
        {% endfor %}
        max(job_demand) as max_job_demand,
        max(course_count) as max_course_count

    from combined

),

-- x / max(x) over all skills, 0 when every skill has 0.
normalized as (

    select
        combined.*,
        {% for w in windows %}
        {% for measure in ['search_count', 'low_result_count', 'forum_post_count'] %}
        case
            when maxima.max_{{ measure }}_{{ w }} > 0
                then
                    cast(combined.{{ measure }}_{{ w }} as double)
                    / maxima.max_{{ measure }}_{{ w }}
            else 0
        end as norm_{{ measure }}_{{ w }},
        {% endfor %}
        {% endfor %}
        case
            when maxima.max_job_demand > 0
                then cast(combined.job_demand as double) / maxima.max_job_demand
            else 0
        end as norm_job_demand,
        case
            when maxima.max_course_count > 0
                then cast(combined.course_count as double) / maxima.max_course_count
            else 0
        end as norm_course_count

    from combined
    cross join maxima

),

scored as (

    select
        *,
        {% for w in windows %}
        (
            0.4 * norm_search_count_{{ w }}
            + 0.2 * norm_low_result_count_{{ w }}
            + 0.2 * norm_forum_post_count_{{ w }}
            + 0.2 * norm_job_demand
        ) as demand_score_{{ w }},
        {% endfor %}
        norm_course_count * (0.5 + 0.5 * course_quality) as supply_score

    from normalized

),

final as (

    select
        cast(scored.skill_key as {{ dbt.type_string() }}) as skill_key,
        cast(scored.skill_name as {{ dbt.type_string() }}) as skill_name,
        cast(scored.skill_id as {{ dbt.type_string() }}) as skill_id,
        cast(scored.skill_category as {{ dbt.type_string() }}) as skill_category,
        cast(scored.is_in_taxonomy as {{ dbt.type_boolean() }}) as is_in_taxonomy,
        cast(scored.is_in_catalog as {{ dbt.type_boolean() }}) as is_in_catalog,
        cast(scored.search_count_all as {{ dbt.type_bigint() }}) as search_count,
        cast(scored.zero_result_count as double) / nullif(scored.search_count_all, 0)
            as zero_result_share,
        cast(scored.low_result_count_all as double) / nullif(scored.search_count_all, 0)
            as low_result_share,
        cast(scored.forum_post_count_all as {{ dbt.type_bigint() }}) as forum_post_count,
        cast(scored.job_occupation_count as {{ dbt.type_bigint() }}) as job_occupation_count,
        cast(scored.job_hot_technology_count as {{ dbt.type_bigint() }})
            as job_hot_technology_count,
        cast(scored.job_in_demand_count as {{ dbt.type_bigint() }}) as job_in_demand_count,
        cast(scored.course_count as {{ dbt.type_bigint() }}) as course_count,
        cast(scored.course_completion_rate as double) as course_completion_rate,
        cast(scored.course_avg_rating as double) as course_avg_rating,
        round(cast(scored.demand_score_all as double), 6) as demand_score,
        round(cast(scored.supply_score as double), 6) as supply_score,
        round(cast(scored.demand_score_all - scored.supply_score as double), 6) as gap_score,
        cast(scored.search_count_7d as {{ dbt.type_bigint() }}) as search_count_7d,
        cast(scored.search_count_prev_7d as {{ dbt.type_bigint() }}) as search_count_prev_7d,
        cast(scored.forum_post_count_7d as {{ dbt.type_bigint() }}) as forum_post_count_7d,
        cast(scored.forum_post_count_prev_7d as {{ dbt.type_bigint() }})
            as forum_post_count_prev_7d,
        round(cast(scored.demand_score_7d - scored.supply_score as double), 6) as gap_score_7d,
        round(
            cast(scored.demand_score_prev_7d - scored.supply_score as double), 6
        ) as gap_score_prev_7d,
        round(
            cast(scored.demand_score_7d - scored.demand_score_prev_7d as double), 6
        ) as gap_score_trend,
        cast(time_window.window_end_at as {{ dbt.type_timestamp() }}) as window_end_at,
        cast(path_demand.path_learner_count as {{ dbt.type_bigint() }}) as path_learner_count,
        cast(path_demand.path_demand_computed_at as {{ dbt.type_timestamp() }})
            as path_demand_computed_at

    from scored
    cross join time_window
    left join path_demand
        on scored.skill_key = path_demand.skill_key

)

select * from final
