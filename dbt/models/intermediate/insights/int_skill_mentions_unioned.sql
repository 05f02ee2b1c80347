-- One row per search or forum post and skill it names: the demand signals of content gaps in one
-- shape. Searches keep how many results they got; posts have no results (nulls).
with

search_matches as (

    select * from {{ ref('int_searches_matched_to_skills') }}

),

forum_matches as (

    select * from {{ ref('int_forum_posts_matched_to_skills') }}

),

final as (

    select
        event_id,
        skill_key,
        'search' as mention_source,
        searched_at as mentioned_at,
        is_zero_result,
        is_low_result

    from search_matches

    union all

    select
        event_id,
        skill_key,
        'forum_post' as mention_source,
        posted_at as mentioned_at,
        cast(null as {{ dbt.type_boolean() }}) as is_zero_result,
        cast(null as {{ dbt.type_boolean() }}) as is_low_result

    from forum_matches

)

select * from final
