-- One row per `profile_updated` event: the learner's stated goal at that moment.
with

profile_events as (

    select * from {{ ref('stg_pathwise__events') }}
    where event_type = 'profile_updated'

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        occurred_at as updated_at,

        -- properties
        {{ json_str('properties', 'target_role') }} as target_role,
        {{ json_str_list('properties', 'current_skills') }} as current_skills,
        {{ json_int('properties', 'weekly_minutes') }} as weekly_minutes,
        {{ json_str('properties', 'preferred_format') }} as preferred_format

    from profile_events

)

select * from final
