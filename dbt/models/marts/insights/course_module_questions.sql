-- One row per course and module its Q&A questions landed nearest to (the module of the best
-- passage, as the Q&A index names it; '' when nothing was retrieved): how many learners' questions
-- about the course were answered confidently, with the closest material, or refused. Questions
-- over the whole catalog are left out: the course nearest to them is not one they were asked of.
with

outcomes as (

    select * from {{ ref('stg_pathwise__qa_outcomes') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

-- A Q&A module named like a catalog module (case and spacing aside) takes its position; two
-- catalog modules with one name take the first.
module_positions as (

    select
        course_id,
        lower(trim(module_title)) as module_name,
        min(module_position) as module_position

    from modules
    where module_title is not null
    group by course_id, lower(trim(module_title))

),

counted as (

    select
        course_id,
        coalesce(module_title, '') as module_title,
        count(*) as question_count,
        sum(case when answer_grade = 'confident' then 1 else 0 end) as confident_count,
        sum(case when answer_grade = 'closest' then 1 else 0 end) as closest_count,
        sum(case when answer_grade = 'refused' then 1 else 0 end) as refused_count,
        min(asked_on) as first_asked_on,
        max(asked_on) as last_asked_on

    from outcomes
    where question_scope = 'course' and course_id is not null
    group by course_id, coalesce(module_title, '')

),

final as (

    select
        -- ids
        counted.course_id,
        counted.module_title,

        -- attributes
        cast(module_positions.module_position as {{ dbt.type_int() }}) as module_position,

        -- counts
        cast(counted.question_count as {{ dbt.type_int() }}) as question_count,
        cast(counted.confident_count as {{ dbt.type_int() }}) as confident_count,
        cast(counted.closest_count as {{ dbt.type_int() }}) as closest_count,
        cast(counted.refused_count as {{ dbt.type_int() }}) as refused_count,
        cast(round(1.0 * counted.refused_count / counted.question_count, 4) as double)
            as refusal_rate,

        -- dates
        counted.first_asked_on,
        counted.last_asked_on

    from counted
    left join module_positions
        on counted.course_id = module_positions.course_id
        and lower(counted.module_title) = module_positions.module_name

)

select * from final
