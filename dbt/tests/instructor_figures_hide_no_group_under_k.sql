-- k-anonymity holds against subtraction (doc block `k_anonymity`): for every course its
-- instructor sees, the enrolments minus the enrolment weeks shown, and minus the funnel steps,
-- leave no group of 1 to k - 1 learners (nor a negative one: the figures must add up). Each
-- shown count is at least k by the `at_least_k` tests; tests/test_k_anonymity.py tries the
-- same subtractions on what the app reads. A row here is a course that gives a group away.
with

summaries as (

    select * from {{ ref('instructor_course_summaries') }}

),

weeks as (

    select * from {{ ref('instructor_course_weeks') }}

),

steps as (

    select * from {{ ref('instructor_funnel_steps') }}

),

shown_weeks as (

    select
        course_id,
        sum(enrolment_count) as learner_count

    from weeks
    group by course_id

),

shown_steps as (

    select
        course_id,
        sum(learner_count) as learner_count

    from steps
    group by course_id

),

differences as (

    select
        summaries.course_id,
        summaries.enrolment_count - coalesce(shown_weeks.learner_count, 0)
            as learners_in_withheld_weeks,
        summaries.enrolment_count - coalesce(shown_steps.learner_count, 0)
            as learners_outside_funnel_steps

    from summaries
    left join shown_weeks
        on summaries.course_id = shown_weeks.course_id
    left join shown_steps
        on summaries.course_id = shown_steps.course_id
    where summaries.has_enough_learners

),

final as (

    select * from differences
    where
        (
            learners_in_withheld_weeks <> 0
            and learners_in_withheld_weeks < {{ var('k_anonymity') }}
        )
        or (
            learners_outside_funnel_steps <> 0
            and learners_outside_funnel_steps < {{ var('k_anonymity') }}
        )

)

select * from final
