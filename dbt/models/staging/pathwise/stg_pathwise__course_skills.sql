with

source as (

    select * from {{ source('pathwise', 'catalog_course_skills') }}

),

final as (

    select
        course_id,
        skill as skill_name,
        loaded_at

    from source

)

select * from final
