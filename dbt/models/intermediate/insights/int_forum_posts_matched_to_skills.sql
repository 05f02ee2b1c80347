-- One row per forum post and skill it names (the skill's normalized name appears in the post as
-- whole words). Skill names shorter than 3 characters ('R', 'Go', 'C') are not matched in posts:
-- as everyday words they would count mostly false mentions.
--
-- Incremental: matching every post against every skill is the costliest step of the build, and
-- a post's matches never change, so a run matches only the posts loaded since the last one.
-- When the skills themselves change (new catalog skills), rebuild it:
-- `pathwise build --select int_forum_posts_matched_to_skills --full-refresh`.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

posts as (

    select * from {{ ref('stg_pathwise__forum_posts') }}
    where {{ new_batches_only() }}

),

skills as (

    select * from {{ ref('int_skills_unioned') }}

),

normalized as (

    select
        event_id,
        posted_at,
        loaded_at,
        trim(regexp_replace(
            regexp_replace(lower(coalesce(post_text, '')), '[^a-z0-9+#.]+', ' ', 'g'),
            '[.]+( |$)', ' ', 'g'
        )) as post_normalized

    from posts

),

final as (

    select
        normalized.event_id,
        normalized.posted_at,
        skills.skill_key,
        normalized.loaded_at

    from normalized
    inner join skills
        on {{ dbt.length('skills.skill_key') }} >= 3
        and ' ' || normalized.post_normalized || ' ' like '% ' || skills.skill_key || ' %'

)

select * from final
