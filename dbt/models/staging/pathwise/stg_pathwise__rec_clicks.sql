-- One row per `rec_click`: a recommended course was clicked.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

click_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'rec_click'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as clicked_at,

        -- properties
        {{ json_str('properties', 'rec_id') }} as rec_id,

        -- lineage
        batch_id,
        loaded_at

    from click_events

)

select * from final
