-- One row per `material_view`: the learner used a piece of the course's material on a day
-- (a page, resource, forum, online class; OULAD's clickstream).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

material_view_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'material_view'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        session_id,
        course_id,
        occurred_at as viewed_at,

        -- properties
        {{ json_str('properties', 'material_id') }} as material_id,
        coalesce({{ json_int('properties', 'clicks') }}, 1) as clicks,

        -- lineage
        batch_id,
        loaded_at

    from material_view_events

)

select * from final
