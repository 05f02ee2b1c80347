-- One row per catalog module with a due date (`due_day` in modules.csv, docs/catalog.md): the
-- day, counted from the learner's course clock start, by which its assessment is due. Read from
-- the catalog source beside stg_pathwise__modules while the staging layer is being restructured.

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
        cast(due_day as double) as due_day,

        loaded_at

    from source
    where due_day is not null

)

select * from final
