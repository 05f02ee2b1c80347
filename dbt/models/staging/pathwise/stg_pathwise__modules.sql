with

source as (

    select * from {{ source('pathwise', 'catalog_modules') }}

),

final as (

    select
        -- ids
        course_id,
        module_id,

        -- attributes
        position as module_position,
        title as module_title,
        duration_minutes,
        format as module_format,
        -- days after the learner's course clock starts by which the module's assessment is due
        cast(due_day as double) as due_day,

        loaded_at

    from source

)

select * from final
