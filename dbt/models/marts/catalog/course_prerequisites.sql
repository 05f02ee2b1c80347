-- One row per course and a course to take before it: the catalog's, and those accepted in the
-- metadata review queue (pathwise/metadata_queue.py) where the prerequisite is a catalog course.
with

prerequisites as (

    select * from {{ ref('stg_pathwise__course_prerequisites') }}

),

accepted_metadata as (

    select * from {{ ref('stg_pathwise__accepted_course_metadata') }}

),

courses as (

    select * from {{ ref('stg_pathwise__courses') }}

),

accepted_prerequisites as (

    select
        accepted_metadata.course_id,
        accepted_metadata.metadata_value as prerequisite_course_id

    from accepted_metadata
    inner join courses
        on accepted_metadata.metadata_value = courses.course_id
    where
        accepted_metadata.metadata_kind = 'prerequisite'
        and accepted_metadata.metadata_value <> accepted_metadata.course_id

),

final as (

    select distinct
        course_id,
        prerequisite_course_id

    from prerequisites

    union

    select
        course_id,
        prerequisite_course_id

    from accepted_prerequisites

)

select * from final
