-- One row per learner and course they enrolled in (first enrolment): how far through the
-- catalog's modules they are, the minutes left and the next module to take.
with

enrolments as (

    select * from {{ ref('int_enrolments_deduplicated') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

completions as (

    select * from {{ ref('int_module_completions_deduplicated') }}

),

courses as (

    select * from {{ ref('int_modules_aggregated_to_courses') }}

),

-- Catalog modules the learner completed (each once: the completions are deduplicated).
modules_done as (

    select
        learner_key,
        course_id,
        module_id

    from completions
    where module_position is not null

),

done_counts as (

    select
        learner_key,
        course_id,
        count(*) as modules_done

    from modules_done
    group by learner_key, course_id

),

modules_not_done as (

    select
        enrolments.learner_key,
        enrolments.course_id,
        modules.module_id,
        modules.module_position,
        modules.module_title,
        modules.duration_minutes,
        row_number() over (
            partition by enrolments.learner_key, enrolments.course_id
            order by modules.module_position, modules.module_id
        ) as remaining_rank

    from enrolments
    inner join modules
        on enrolments.course_id = modules.course_id
    left join modules_done
        on enrolments.learner_key = modules_done.learner_key
        and modules.course_id = modules_done.course_id
        and modules.module_id = modules_done.module_id
    where modules_done.module_id is null

),

remaining as (

    select
        learner_key,
        course_id,
        sum(coalesce(duration_minutes, 0)) as minutes_remaining

    from modules_not_done
    group by learner_key, course_id

),

next_modules as (

    select * from modules_not_done
    where remaining_rank = 1

),

final as (

    select
        enrolments.learner_key,
        enrolments.course_id,
        coalesce(done_counts.modules_done, 0) as modules_done,
        coalesce(courses.module_count, 0) as modules_total,
        case
            when courses.module_count > 0
                then coalesce(remaining.minutes_remaining, 0)
        end as minutes_remaining,
        next_modules.module_id as next_module_id,
        next_modules.module_position as next_module_position,
        next_modules.module_title as next_module_title,
        next_modules.duration_minutes as next_module_duration_minutes

    from enrolments
    left join courses
        on enrolments.course_id = courses.course_id
    left join done_counts
        on enrolments.learner_key = done_counts.learner_key
        and enrolments.course_id = done_counts.course_id
    left join remaining
        on enrolments.learner_key = remaining.learner_key
        and enrolments.course_id = remaining.course_id
    left join next_modules
        on enrolments.learner_key = next_modules.learner_key
        and enrolments.course_id = next_modules.course_id

)

select * from final
