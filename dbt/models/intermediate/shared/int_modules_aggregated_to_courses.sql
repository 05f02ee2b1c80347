-- One row per course with catalog modules: how many, how long in all, and the format most of
-- them teach in (for courses whose catalog entry has no primary format).
with

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

formats_counted as (

    select
        course_id,
        module_format,
        count(*) as format_module_count

    from modules
    where module_format is not null
    group by course_id, module_format

),

-- Ties between formats go to the first in alphabetical order, so the result never depends on
-- the order rows are read in.
formats_ranked as (

    select
        course_id,
        module_format,
        row_number() over (
            partition by course_id
            order by format_module_count desc, module_format asc
        ) as format_rank

    from formats_counted

),

counted as (

    select
        course_id,
        count(*) as module_count,
        sum(duration_minutes) as planned_minutes

    from modules
    group by course_id

),

final as (

    select
        counted.course_id,
        counted.module_count,
        counted.planned_minutes,
        formats_ranked.module_format

    from counted
    left join formats_ranked
        on counted.course_id = formats_ranked.course_id
        and formats_ranked.format_rank = 1

)

select * from final
