with

source as (

    select * from {{ source('pathwise', 'catalog_courses') }}

),

final as (

    select
        -- ids
        course_id,
        instructor_id,

        -- text
        title as course_title,
        description as course_description,

        -- attributes
        category,
        language,
        primary_format,
        difficulty,
        case difficulty
            when 1 then 'beginner'
            when 2 then 'intermediate'
            when 3 then 'advanced'
        end as difficulty_label,

        loaded_at

    from source

)

select * from final
