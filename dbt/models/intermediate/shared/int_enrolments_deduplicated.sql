-- One row per learner and course they enrolled in: the first enrolment. Learners re-enrol (the
-- platform sends another `enroll`); progress, outcomes and cohorts count the course once, from
-- the first.
with

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

final as (

    select
        learner_key,
        course_id,
        min(enrolled_at) as enrolled_at,
        count(*) as enrolment_event_count

    from enrolments
    group by learner_key, course_id

)

select * from final
