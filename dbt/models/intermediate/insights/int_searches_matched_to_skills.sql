-- One row per search and skill it asks for. A search matches a skill when the skill's name is
-- in the query ('learn microsoft sql server' -> Microsoft SQL Server) or, failing that, when the
-- query's topic is a run of words in the skill's name ('sql' -> Structured query language SQL);
-- one search can match several skills. Distinct queries are matched first, then joined back.
with

searches as (

    select * from {{ ref('int_searches_normalized') }}

),

skills as (

    select * from {{ ref('int_skills_unioned') }}

),

queries as (

    select distinct
        query_normalized,
        query_topic

    from searches
    where query_normalized <> ''

),

candidates as (

    select
        queries.query_normalized,
        queries.query_topic,
        skills.skill_key,
        skills.is_in_catalog,
        case
            when ' ' || queries.query_normalized || ' ' like '% ' || skills.skill_key || ' %'
                then 1
            when skills.is_in_catalog then 2
            else 3
        end as match_tier

    from queries
    inner join skills
        on ' ' || queries.query_normalized || ' ' like '% ' || skills.skill_key || ' %'
        or (
            queries.query_topic <> ''
            and ' ' || skills.skill_key || ' ' like '% ' || queries.query_topic || ' %'
        )

),

-- Only the best tier of a query counts: a skill named in full, else catalog skills whose name
-- holds the topic ('sql' -> Structured query language SQL), else taxonomy skills that do.
query_skills as (

    select
        query_normalized,
        query_topic,
        skill_key,
        is_in_catalog,
        match_tier,
        min(match_tier) over (partition by query_normalized, query_topic) as best_tier

    from candidates

),

final as (

    select
        searches.event_id,
        searches.searched_at,
        searches.results_count,
        searches.is_zero_result,
        searches.is_low_result,
        query_skills.skill_key,
        query_skills.is_in_catalog,
        query_skills.match_tier

    from searches
    inner join query_skills
        on searches.query_normalized = query_skills.query_normalized
        and searches.query_topic = query_skills.query_topic
        and query_skills.match_tier = query_skills.best_tier

)

select * from final
