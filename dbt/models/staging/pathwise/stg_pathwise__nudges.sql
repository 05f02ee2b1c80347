-- One row per nudge event: a nudge reached the learner (`nudge_sent`; from a Pathwise agent when
-- `agent` is set, else from the platform), the learner opened it (`nudge_opened`) or followed its
-- link (`nudge_clicked`).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

nudge_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type in ('nudge_sent', 'nudge_opened', 'nudge_clicked')
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
            when 'nudge_clicked' then 'clicked'
        end as nudge_action,

        -- properties
        {{ json_str('properties', 'nudge_id') }} as nudge_id,
        {{ json_str('properties', 'channel') }} as channel,
        {{ json_str('properties', 'agent') }} as agent,
        {{ json_str('properties', 'campaign_id') }} as campaign_id,

        -- lineage
        batch_id,
        loaded_at

    from nudge_events

)

select * from final
