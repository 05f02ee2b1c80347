-- One row per course and a course to take before it.
with

prerequisites as (

    select * from {{ ref('stg_pathwise__course_prerequisites') }}

),

final as (

    select distinct
        course_id,
        prerequisite_course_id

    from prerequisites

)

select * from final
