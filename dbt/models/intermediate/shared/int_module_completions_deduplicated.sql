-- One row per learner and module they completed: the first completion (a learner may complete a
-- module again). Modules the catalog does not list keep a row, with a null position: imported
-- data can be partial, and the recommender counts them as progress.
with

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

courses as (

    select * from {{ ref('int_modules_aggregated_to_courses') }}

),

-- Ties at the same instant go to the lower event id, so both runs of a rebuild agree.
ranked as (

    select
        event_id,
        learner_key,
        course_id,
        module_id,
        completed_at,
        row_number() over (
            partition by learner_key, course_id, module_id
            order by completed_at asc, event_id asc
        ) as completion_rank

    from module_completions

),

final as (

    select
        ranked.event_id,
        ranked.learner_key,
        ranked.course_id,
        ranked.module_id,
        ranked.completed_at,
        modules.module_position,
        courses.module_count as course_module_count

    from ranked
    left join modules
        on ranked.course_id = modules.course_id
        and ranked.module_id = modules.module_id
    left join courses
        on ranked.course_id = courses.course_id
    where ranked.completion_rank = 1

)

select * from final
