-- One row per course and skill it teaches (as the catalog names the skill).
with

course_skills as (

    select * from {{ ref('stg_pathwise__course_skills') }}

),

final as (

    select distinct
        course_id,
        skill_name

    from course_skills

)

select * from final
