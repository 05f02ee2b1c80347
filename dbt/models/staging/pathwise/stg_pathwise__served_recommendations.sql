-- One row per course the read API served, with the response's context.
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
        format_first

    from served

)

select * from final
