-- One row per nudge event: Pathwise sent a nudge (`nudge_sent`) or the learner opened it
-- (`nudge_opened`).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

nudge_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type in ('nudge_sent', 'nudge_opened')
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        occurred_at,
        case event_type
            when 'nudge_sent' then 'sent'
            when 'nudge_opened' then 'opened'
        end as nudge_action,

        -- properties
        {{ json_str('properties', 'nudge_id') }} as nudge_id,
        {{ json_str('properties', 'channel') }} as channel,

        -- lineage
        batch_id,
        loaded_at

    from nudge_events

)

select * from final
