-- One row per `module_start` event. A module was started.
with

module_start_events as (

    select * from {{ ref('stg_pathwise__events') }}
    where event_type = 'module_start'

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        module_id,
        occurred_at as started_at

    from module_start_events

)

select * from final
