-- One row per search with its query normalized (as skill names are in `int_skills_unioned`) and
-- reduced to a topic: filler words such as 'learn', 'course', 'for beginners' removed.
{% set stop_words = [
    'for absolute beginners', 'for complete beginners', 'for beginners', 'for beginner',
    'for dummies', 'crash course', 'introduction to', 'intro to', 'how to', 'courses', 'course',
    'tutorials', 'tutorial', 'classes', 'class', 'training', 'beginners', 'beginner', 'basics',
    'fundamentals', 'advanced', 'intermediate', 'online', 'free',
] -%}

with

searches as (

    select * from {{ ref('stg_pathwise__searches') }}

),

normalized as (

    select
        event_id,
        learner_key,
        searched_at,
        results_count,
        is_zero_result,
        results_count <= 2 as is_low_result,
        trim(regexp_replace(
            regexp_replace(lower(coalesce(query_text, '')), '[^a-z0-9+#.]+', ' ', 'g'),
            '[.]+( |$)', ' ', 'g'
        )) as query_normalized

    from searches

),

topics as (

    select
        *,
        -- 'learn' / 'learning' only lead a query ('machine learning' keeps its word); the other
        -- stop words go wherever they stand.
        trim(regexp_replace(
            regexp_replace(
                regexp_replace(query_normalized, '^(learn|learning|study) ', ''),
                '\b({{ stop_words | join("|") }})\b', ' ', 'g'
            ),
            ' +', ' ', 'g'
        )) as query_topic

    from normalized

),

final as (

    select
        event_id,
        learner_key,
        searched_at,
        results_count,
        is_zero_result,
        is_low_result,
        query_normalized,
        query_topic

    from topics

)

select * from final
