-- One row per catalog `search`.
with

search_events as (

    select * from {{ ref('stg_pathwise__events') }}
    where event_type = 'search'

),

extracted as (

    select
        event_id,
        learner_key,
        session_id,
        occurred_at as searched_at,

        -- properties
        {{ json_str('properties', 'query') }} as query_text,
        {{ json_int('properties', 'results_count') }} as results_count

    from search_events

),

final as (

    select
        *,
        results_count = 0 as is_zero_result

    from extracted

)

select * from final
