-- One row per `profile_updated` event: the learner's stated goal at that moment.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

profile_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'profile_updated'
        and {{ new_batches_only() }}

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
        {{ json_str('properties', 'preferred_format') }} as preferred_format,

        -- lineage
        batch_id,
        loaded_at

    from profile_events

)

select * from final
