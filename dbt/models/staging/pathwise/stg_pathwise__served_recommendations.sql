-- One row per course a surface (the read API, the learner page) served, with its list's context.
with

served as (

    select * from {{ source('pathwise', 'served_recommendations') }}

),

final as (

    select
        rec_id,
        response_id,
        learner_key,
        course_id,
        served_at,
        surface,
        cold_start,
        snapshot_version,
        model_version,
        rank as rec_position,
        score,
        boost,
        boost is not null as is_boosted,
        reason,
        format_first,
        -- rows loaded before the column existed came from the read API
        coalesce(served_via, 'api') as served_via,
        caller_kind,
        caller_name,
        caller_role,
        caller_key_id

    from served

)

select * from final
