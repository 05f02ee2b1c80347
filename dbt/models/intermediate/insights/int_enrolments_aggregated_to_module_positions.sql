-- One row per course with enrolments and each position a learner can stand at: 0 (no module
-- completed yet), each module's position, and any other position a learner stands at, with the
-- learners whose last completed module it is and how many of them dropped the course. The input
-- of the banded module funnel (`instructor_funnel_steps`); every enrolment is counted once.
with

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_courses') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

courses as (

    select distinct
        course_id,
        instructor_id

    from enrolments

),

-- Where a learner can stand: 0 (no module completed yet), each module's position, and any
-- other position a learner stands at (so every enrolment is counted once).
stands as (

    select
        course_id,
        0 as module_position

    from courses

    union all

    select
        modules.course_id,
        modules.module_position

    from modules
    inner join courses
        on modules.course_id = courses.course_id

    union all

    select
        course_id,
        module_position

    from enrolments

),

positions as (

    select
        stands.course_id,
        stands.module_position,
        max(modules.module_title) as module_title

    from stands
    left join modules
        on stands.course_id = modules.course_id
        and stands.module_position = modules.module_position
    group by stands.course_id, stands.module_position

),

final as (

    select
        positions.course_id,
        courses.instructor_id,
        positions.module_position,
        positions.module_title,
        count(enrolments.course_id) as learner_count,
        sum(case when enrolments.status = 'dropped' then 1 else 0 end) as dropped_count

    from positions
    inner join courses
        on positions.course_id = courses.course_id
    left join enrolments
        on positions.course_id = enrolments.course_id
        and positions.module_position = enrolments.module_position
    group by
        positions.course_id,
        courses.instructor_id,
        positions.module_position,
        positions.module_title

)

select * from final
