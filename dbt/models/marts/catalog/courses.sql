-- One row per catalog course: the catalog's own columns, how many modules it has and the format
-- most of them teach in (for courses whose catalog entry names no primary format).
with

courses as (

    select * from {{ ref('stg_pathwise__courses') }}

),

module_summaries as (

    select * from {{ ref('int_modules_aggregated_to_courses') }}

),

final as (

    select
        -- ids
        courses.course_id,
        courses.instructor_id,

        -- text
        courses.course_title,
        courses.course_description,

        -- attributes
        courses.category,
        courses.language,
        courses.primary_format,
        courses.difficulty,
        courses.difficulty_label,

        -- modules
        cast(coalesce(module_summaries.module_count, 0) as {{ dbt.type_int() }}) as module_count,
        module_summaries.module_format,

        courses.loaded_at

    from courses
    left join module_summaries
        on courses.course_id = module_summaries.course_id

)

select * from final
