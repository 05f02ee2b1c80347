-- One row per `rec_impression`: one recommended course shown at one position of a served list.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

impression_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'rec_impression'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as shown_at,

        -- properties
        {{ json_str('properties', 'rec_id') }} as rec_id,
        {{ json_int('properties', 'position') }} as rec_position,
        {{ json_str('properties', 'surface') }} as surface,
        {{ json_str('properties', 'model_version') }} as model_version,

        -- lineage
        batch_id,
        loaded_at

    from impression_events

)

select * from final
