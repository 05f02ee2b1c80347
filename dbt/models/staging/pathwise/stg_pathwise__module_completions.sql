-- One row per `module_complete` event. A module was completed.
with

module_complete_events as (

    select * from {{ ref('stg_pathwise__events') }}
    where event_type = 'module_complete'

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        module_id,
        occurred_at as completed_at

    from module_complete_events

)

select * from final
