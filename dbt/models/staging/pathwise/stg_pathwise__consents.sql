-- One row per `consent_changed` event: a grant or a withdrawal of one consent tier.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

consent_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'consent_changed'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        occurred_at as changed_at,

        -- properties
        {{ json_str('properties', 'tier') }} as consent_tier,
        {{ json_bool('properties', 'granted') }} as is_granted,

        -- lineage
        batch_id,
        loaded_at

    from consent_events

)

select * from final
