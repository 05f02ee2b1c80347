-- One row per learner and course that ended: the first end and its outcome (completed with a
-- result, or dropped). A learner may drop, come back and end again; the dropout model labels
-- the first. Ties at the same instant go to the lower event id, so a rebuild gives the same row.
with

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

final as (

    select
        learner_key,
        course_id,
        min(ended_at) as ended_at,
        arg_min(outcome, (ended_at, event_id)) as outcome

    from course_ends
    group by learner_key, course_id

)

select * from final
