-- One row per learner seen in any event: when they were active, relative to the latest event in
-- the warehouse ("today" is not now(), so results are reproducible).
with

events_daily as (

    select * from {{ ref('int_learner_events_daily') }}

),

reference as (

    select * from {{ ref('int_reference_window') }}

),

learner_days as (

    select
        learner_key,
        activity_date as occurred_on,
        min(first_event_at) as first_at,
        max(last_event_at) as last_at

    from events_daily
    group by learner_key, activity_date

),

final as (

    select
        learner_days.learner_key,
        min(learner_days.first_at) as first_activity_at,
        max(learner_days.last_at) as last_activity_at,
        count(*) as active_days,
        sum(
            case
                when learner_days.occurred_on
                    > {{ dbt.dateadd('day', -7, 'reference.reference_date') }}
                    then 1
                else 0
            end
        ) as active_days_last_7d,
        sum(
            case
                when learner_days.occurred_on
                    > {{ dbt.dateadd('day', -30, 'reference.reference_date') }}
                    then 1
                else 0
            end
        ) as active_days_last_30d,
        max(reference.reference_date) as reference_date

    from learner_days
    cross join reference
    group by learner_days.learner_key

)

select * from final
