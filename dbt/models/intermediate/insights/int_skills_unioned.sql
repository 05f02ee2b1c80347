-- The skill vocabulary for insights: one row per normalized skill name, from the taxonomy seed
-- (`skills`) and the catalog (`stg_pathwise__course_skills`), so that a skill the catalog teaches
-- but the taxonomy lacks (and the reverse) both count.
{% set normalized_name = skill_key('skill_name') -%}

with

taxonomy_skills as (

    select * from {{ ref('skills') }}

),

course_skills as (

    select * from {{ ref('stg_pathwise__course_skills') }}

),

taxonomy as (

    -- Two taxonomy names could normalize alike: keep one row per key.
    select
        {{ normalized_name }} as skill_key,
        min(skill_name) as skill_name,
        min(skill_id) as skill_id,
        min(category) as category

    from taxonomy_skills
    group by 1

),

catalog as (

    select
        {{ normalized_name }} as skill_key,
        min(skill_name) as skill_name

    from course_skills
    group by 1

),

final as (

    select
        coalesce(taxonomy.skill_key, catalog.skill_key) as skill_key,
        coalesce(taxonomy.skill_name, catalog.skill_name) as skill_name,
        taxonomy.skill_id,
        taxonomy.category as skill_category,
        taxonomy.skill_key is not null as is_in_taxonomy,
        catalog.skill_key is not null as is_in_catalog

    from taxonomy
    full outer join catalog
        on taxonomy.skill_key = catalog.skill_key

    where coalesce(taxonomy.skill_key, catalog.skill_key) <> ''

)

select * from final
