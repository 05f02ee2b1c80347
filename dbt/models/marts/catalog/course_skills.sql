-- One row per course and skill it teaches: as the catalog names the skill, and the skill tags
-- accepted in the metadata review queue (pathwise/metadata_queue.py).
with

course_skills as (

    select * from {{ ref('stg_pathwise__course_skills') }}

),

accepted_metadata as (

    select * from {{ ref('stg_pathwise__accepted_course_metadata') }}

),

accepted_skills as (

    select
        course_id,
        metadata_value as skill_name

    from accepted_metadata
    where metadata_kind = 'skill'

),

final as (

    select distinct
        course_id,
        skill_name

    from course_skills

    union

    select
        course_id,
        skill_name

    from accepted_skills

)

select * from final
