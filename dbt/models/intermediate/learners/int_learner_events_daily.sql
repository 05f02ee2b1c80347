-- Events per learner, course and UTC day, as partial counts per loaded batch. Events are
-- append-only, so an incremental run aggregates only the new batches and readers add the
-- partials up (counts sum, first/last compose): an event that arrives late for an earlier day
-- lands in its own row and still counts. Events without a course have a null course_id.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

events as (

    select * from {{ ref('base_pathwise__events') }}
    where {{ new_batches_only() }}

),

final as (

    select
        learner_key,
        course_id,
        occurred_on as activity_date,
        batch_id,
        count(*) as events,
        -- activity in the course itself: not the enrolment or its end
        sum(
            case
                when course_id is not null
                    and event_type not in ('enroll', 'course_complete', 'course_drop')
                    then 1
                else 0
            end
        ) as course_activity_events,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        max(loaded_at) as loaded_at

    from events
    group by learner_key, course_id, occurred_on, batch_id

)

select * from final
