with

source as (

    select * from {{ source('pathwise', 'catalog_accepted_metadata') }}

),

final as (

    select
        course_id,
        kind as metadata_kind,
        trim(value) as metadata_value,
        confidence,
        suggestion_id,
        accepted_at

    from source

)

select * from final
