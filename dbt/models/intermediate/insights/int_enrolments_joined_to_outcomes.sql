-- One row per learner and course they enrolled in (first enrolment), with what followed: whether
-- they completed, passed, failed or dropped the course, the last module position they completed,
-- their latest rating and their quiz attempts in the course. Input to the learners' progress and
-- to the course and recommendation KPIs.
with

first_enrolments as (

    select * from {{ ref('int_enrolments_deduplicated') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

module_completions as (

    select * from {{ ref('int_module_completions_deduplicated') }}

),

ratings as (

    select * from {{ ref('stg_pathwise__ratings') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

ends as (

    -- A completion wins over a drop (a learner may drop, come back and complete).
    select
        learner_key,
        course_id,
        min(case when is_completed then ended_at end) as completed_at,
        max(case when not is_completed then ended_at end) as dropped_at,
        {{ dbt.bool_or('is_passed') }} as has_passed,
        {{ dbt.bool_or("outcome in ('dropped', 'fail')") }} as has_dropped_or_failed,
        max(ended_at) as last_ended_at

    from course_ends
    group by 1, 2

),

module_progress as (

    select
        learner_key,
        course_id,
        max(module_position) as last_completed_module_position

    from module_completions
    where module_position is not null
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
        avg(score) as quiz_average,
        sum(case when score < 0.5 then 1 else 0 end) as quiz_failed_count

    from quiz_submissions
    group by 1, 2

),

final as (

    select
        first_enrolments.learner_key,
        first_enrolments.course_id,
        first_enrolments.enrolled_at,
        cast({{ dbt.date_trunc('week', 'first_enrolments.enrolled_at') }} as date)
            as enrolment_week,
        ends.completed_at,
        ends.completed_at is not null as is_completed,
        ends.completed_at is null and ends.dropped_at is not null as is_dropped,
        coalesce(ends.has_passed, false) as has_passed,
        coalesce(ends.has_dropped_or_failed, false) as has_dropped_or_failed,
        ends.last_ended_at,
        coalesce(module_progress.last_completed_module_position, 0)
            as last_completed_module_position,
        latest_ratings.stars,
        coalesce(quizzes.quiz_attempt_count, 0) as quiz_attempt_count,
        coalesce(quizzes.quiz_score_sum, 0) as quiz_score_sum,
        quizzes.quiz_average,
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
