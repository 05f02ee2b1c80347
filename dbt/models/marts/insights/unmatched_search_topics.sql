-- One row per search topic that no catalog skill covers: searches whose query matches no skill
-- a course teaches, normalized and stripped of filler words ('learn rust', 'rust course' ->
-- 'rust'). Topics searched by fewer than `var('k_anonymity')` distinct learners are left out,
-- so that a query a handful of people typed (a name, say) never shows. No learner ids.
with

searches as (

    select * from {{ ref('int_searches_normalized') }}

),

search_matches as (

    select * from {{ ref('int_searches_matched_to_skills') }}

),

time_window as (

    select * from {{ ref('int_reference_window') }}

),

search_skill_flags as (

    select
        event_id,
        max(case when is_in_catalog then 1 else 0 end) as matches_catalog_skill,
        max(case when is_in_catalog then 0 else 1 end) as matches_taxonomy_skill

    from search_matches
    group by 1

),

unmatched as (

    select
        searches.*,
        coalesce(search_skill_flags.matches_taxonomy_skill, 0) as matches_taxonomy_skill

    from searches
    left join search_skill_flags
        on searches.event_id = search_skill_flags.event_id
    where coalesce(search_skill_flags.matches_catalog_skill, 0) = 0
        and searches.query_topic <> ''

),

topics as (

    select
        unmatched.query_topic as topic,
        count(*) as search_count,
        count(distinct unmatched.learner_key) as learner_count,
        sum(case when unmatched.is_zero_result then 1 else 0 end) as zero_result_count,
        sum(case when unmatched.is_low_result then 1 else 0 end) as low_result_count,
        max(unmatched.matches_taxonomy_skill) as matches_taxonomy_skill,
        min(unmatched.searched_at) as first_searched_at,
        max(unmatched.searched_at) as last_searched_at,
        sum(case
            when unmatched.searched_at > time_window.window_7d_start_at then 1 else 0
        end) as search_count_7d,
        sum(case
            when unmatched.searched_at > time_window.window_prev_7d_start_at
                and unmatched.searched_at <= time_window.window_7d_start_at
                then 1
            else 0
        end) as search_count_prev_7d

    from unmatched
    cross join time_window
    group by 1

),

final as (

    select
        cast(topic as {{ dbt.type_string() }}) as topic,
        cast(search_count as {{ dbt.type_bigint() }}) as search_count,
        cast(learner_count as {{ dbt.type_bigint() }}) as learner_count,
        cast(zero_result_count as double) / search_count as zero_result_share,
        cast(low_result_count as double) / search_count as low_result_share,
        cast(matches_taxonomy_skill = 1 as {{ dbt.type_boolean() }}) as matches_taxonomy_skill,
        cast(search_count_7d as {{ dbt.type_bigint() }}) as search_count_7d,
        cast(search_count_prev_7d as {{ dbt.type_bigint() }}) as search_count_prev_7d,
        cast(first_searched_at as {{ dbt.type_timestamp() }}) as first_searched_at,
        cast(last_searched_at as {{ dbt.type_timestamp() }}) as last_searched_at

    from topics
    where learner_count >= {{ var('k_anonymity') }}

)

select * from final
