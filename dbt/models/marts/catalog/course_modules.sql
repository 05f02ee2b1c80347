-- One row per module of a catalog course, in the catalog's order.
with

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

final as (

    select
        -- ids
        course_id,
        module_id,

        -- attributes
        module_position,
        module_title,
        duration_minutes,
        module_format,
        due_day,

        loaded_at

    from modules

)

select * from final
