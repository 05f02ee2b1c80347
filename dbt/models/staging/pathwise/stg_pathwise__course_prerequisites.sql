with

source as (

    select * from {{ source('pathwise', 'catalog_course_prerequisites') }}

),

final as (

    select
        course_id,
        prerequisite_course_id,
        loaded_at

    from source

)

select * from final
