-- One row per served item and signal: the signal's contribution to the item's score and its blend
-- weight in that list (what the learner was shown, as logged by pathwise/served_log.py).
with

signals as (

    select * from {{ source('pathwise', 'served_recommendation_signals') }}

),

final as (

    select
        rec_id,
        signal,
        response_id,
        learner_key,
        served_at,
        contribution,
        weight

    from signals

)

select * from final
