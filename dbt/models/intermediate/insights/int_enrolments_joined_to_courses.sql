-- One row per enrolment in a catalog course with what the instructor marts count: the course and
-- its instructor, the enrolment week, the status and the last module completed (from
-- `learner_course_progress`, capped at the course's last module), the rating and quiz attempts.
-- The one source of the `instructor_*` marts, so their totals and parts add up exactly.
with

progress as (

    select * from {{ ref('learner_course_progress') }}

),

outcomes as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

courses as (

    select * from {{ ref('stg_pathwise__courses') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

last_modules as (

    select
        course_id,
        max(module_position) as last_module_position

    from modules
    group by course_id

),

final as (

    select
        progress.learner_key,
        progress.course_id,
        courses.course_title,
        courses.instructor_id,
        cast({{ dbt.date_trunc('week', 'progress.enrolled_at') }} as date) as enrolment_week,
        progress.status,
        case
            when progress.modules_done > coalesce(last_modules.last_module_position, 0)
                then coalesce(last_modules.last_module_position, 0)
            else coalesce(progress.modules_done, 0)
        end as module_position,
        outcomes.stars,
        outcomes.quiz_attempt_count,
        outcomes.quiz_failed_count

    from progress
    inner join courses
        on progress.course_id = courses.course_id
    left join last_modules
        on progress.course_id = last_modules.course_id
    left join outcomes
        on progress.learner_key = outcomes.learner_key
        and progress.course_id = outcomes.course_id

)

select * from final
