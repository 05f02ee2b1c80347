-- One row per catalog `search`.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

search_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'search'
        and {{ new_batches_only() }}

),

extracted as (

    select
        event_id,
        learner_key,
        session_id,
        occurred_at as searched_at,

        -- properties
        {{ json_str('properties', 'query') }} as query_text,
        {{ json_int('properties', 'results_count') }} as results_count,

        -- lineage
        batch_id,
        loaded_at

    from search_events

),

final as (

    select
        *,
        results_count = 0 as is_zero_result

    from extracted

)

select * from final
