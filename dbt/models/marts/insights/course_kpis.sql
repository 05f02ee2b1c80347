-- One row per course and enrolment week: how that week's enrolments went (completions, drops and
-- where they happened, ratings, quiz results). Cohort-based: every number follows the learners
-- who enrolled in the course that week, whenever they completed, dropped, rated or took quizzes.
with

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

courses as (

    select * from {{ ref('stg_pathwise__courses') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

cohorts as (

    select
        course_id,
        enrolment_week,
        count(*) as enrolment_count,
        sum(case when is_completed then 1 else 0 end) as completion_count,
        sum(case when is_dropped then 1 else 0 end) as drop_count,
        avg(stars) as avg_rating,
        count(stars) as rating_count,
        sum(quiz_attempt_count) as quiz_attempt_count,
        sum(quiz_score_sum) as quiz_score_sum,
        sum(quiz_failed_count) as quiz_failed_count

    from enrolments
    group by 1, 2

),

drops_by_position as (

    select
        course_id,
        enrolment_week,
        last_completed_module_position,
        count(*) as dropped_learner_count

    from enrolments
    where is_dropped
    group by 1, 2, 3

),

-- The mode of dropped learners' last completed module position; ties go to the earliest module.
drop_off as (

    select
        course_id,
        enrolment_week,
        last_completed_module_position as drop_off_module_position,
        dropped_learner_count as drop_off_learner_count,
        row_number() over (
            partition by course_id, enrolment_week
            order by dropped_learner_count desc, last_completed_module_position asc
        ) as position_rank

    from drops_by_position

),

final as (

    select
        cast(cohorts.course_id as {{ dbt.type_string() }}) as course_id,
        cast(courses.course_title as {{ dbt.type_string() }}) as course_title,
        cast(cohorts.enrolment_week as date) as period_week,
        cast(cohorts.enrolment_count as {{ dbt.type_bigint() }}) as enrolment_count,
        cast(cohorts.completion_count as {{ dbt.type_bigint() }}) as completion_count,
        cast(cohorts.drop_count as {{ dbt.type_bigint() }}) as drop_count,
        cast(cohorts.completion_count as double) / cohorts.enrolment_count as completion_rate,
        cast(drop_off.drop_off_module_position as {{ dbt.type_int() }}) as drop_off_module_position,
        cast(modules.module_id as {{ dbt.type_string() }}) as drop_off_module_id,
        cast(drop_off.drop_off_learner_count as {{ dbt.type_bigint() }}) as drop_off_learner_count,
        cast(cohorts.avg_rating as double) as avg_rating,
        cast(cohorts.rating_count as {{ dbt.type_bigint() }}) as rating_count,
        cast(cohorts.quiz_attempt_count as {{ dbt.type_bigint() }}) as quiz_attempt_count,
        cast(cohorts.quiz_score_sum as double) / nullif(cohorts.quiz_attempt_count, 0)
            as avg_quiz_score,
        cast(cohorts.quiz_failed_count as double) / nullif(cohorts.quiz_attempt_count, 0)
            as quiz_fail_share

    from cohorts
    left join courses
        on cohorts.course_id = courses.course_id
    left join drop_off
        on cohorts.course_id = drop_off.course_id
        and cohorts.enrolment_week = drop_off.enrolment_week
        and drop_off.position_rank = 1
    left join modules
        on drop_off.course_id = modules.course_id
        and drop_off.drop_off_module_position = modules.module_position

)

select * from final
