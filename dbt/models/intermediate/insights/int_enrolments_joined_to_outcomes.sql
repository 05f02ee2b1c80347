-- One row per learner and course they enrolled in (first enrolment), with what followed: whether
-- they completed or dropped the course, the last module position they completed, their latest
-- rating and their quiz attempts in the course. Input to the course and recommendation KPIs.
with

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

ratings as (

    select * from {{ ref('stg_pathwise__ratings') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

first_enrolments as (

    select
        learner_key,
        course_id,
        min(enrolled_at) as enrolled_at

    from enrolments
    group by 1, 2

),

ends as (

    -- A completion wins over a drop (a learner may drop, come back and complete).
    select
        learner_key,
        course_id,
        min(case when is_completed then ended_at end) as completed_at,
        max(case when not is_completed then ended_at end) as dropped_at

    from course_ends
    group by 1, 2

),

module_progress as (

    select
        module_completions.learner_key,
        module_completions.course_id,
        max(modules.module_position) as last_completed_module_position

    from module_completions
    inner join modules
        on module_completions.course_id = modules.course_id
        and module_completions.module_id = modules.module_id
    group by 1, 2

),

latest_ratings as (

    select
        learner_key,
        course_id,
        stars,
        row_number() over (
            partition by learner_key, course_id
            order by rated_at desc, event_id desc
        ) as rating_rank

    from ratings

),

quizzes as (

    select
        learner_key,
        course_id,
        count(*) as quiz_attempt_count,
        sum(score) as quiz_score_sum,
        sum(case when score < 0.5 then 1 else 0 end) as quiz_failed_count

    from quiz_submissions
    group by 1, 2

),

final as (

    select
        first_enrolments.learner_key,
        first_enrolments.course_id,
        first_enrolments.enrolled_at,
        cast({{ dbt.date_trunc('week', 'first_enrolments.enrolled_at') }} as date) as enrolment_week,
        ends.completed_at,
        ends.completed_at is not null as is_completed,
        ends.completed_at is null and ends.dropped_at is not null as is_dropped,
        coalesce(module_progress.last_completed_module_position, 0)
            as last_completed_module_position,
        latest_ratings.stars,
        coalesce(quizzes.quiz_attempt_count, 0) as quiz_attempt_count,
        coalesce(quizzes.quiz_score_sum, 0) as quiz_score_sum,
        coalesce(quizzes.quiz_failed_count, 0) as quiz_failed_count

    from first_enrolments
    left join ends
        on first_enrolments.learner_key = ends.learner_key
        and first_enrolments.course_id = ends.course_id
    left join module_progress
        on first_enrolments.learner_key = module_progress.learner_key
        and first_enrolments.course_id = module_progress.course_id
    left join latest_ratings
        on first_enrolments.learner_key = latest_ratings.learner_key
        and first_enrolments.course_id = latest_ratings.course_id
        and latest_ratings.rating_rank = 1
    left join quizzes
        on first_enrolments.learner_key = quizzes.learner_key
        and first_enrolments.course_id = quizzes.course_id

)

select * from final
