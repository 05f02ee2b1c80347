-- One row per learner and course they enrolled in: the first enrolment. Learners re-enrol (the
-- platform sends another `enroll`); progress, outcomes and cohorts count the course once, from
-- the first. A learner who completed modules or ended the course without an `enroll` we hold
-- (lost upstream, or quarantined) enrolled all the same: their first such event stands for it,
-- so their progress is not missing where the recommender already names the course.
with

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

enrolment_events as (

    select
        learner_key,
        course_id,
        min(enrolled_at) as enrolled_at,
        count(*) as enrolment_event_count

    from enrolments
    group by learner_key, course_id

),

coursework as (

    select
        learner_key,
        course_id,
        completed_at as studied_at
    from module_completions

    union all

    select
        learner_key,
        course_id,
        ended_at as studied_at
    from course_ends

),

implied as (

    select
        coursework.learner_key,
        coursework.course_id,
        min(coursework.studied_at) as enrolled_at,
        0 as enrolment_event_count

    from coursework
    left join enrolment_events
        on coursework.learner_key = enrolment_events.learner_key
        and coursework.course_id = enrolment_events.course_id
    where enrolment_events.learner_key is null
    group by coursework.learner_key, coursework.course_id

),

final as (

    select * from enrolment_events
    union all
    select * from implied

)

select * from final
