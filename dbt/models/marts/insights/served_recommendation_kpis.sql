-- What the read API served against what learners then did with it, per day and serving context.
-- A served item counts as shown when an impression is attributed to it
-- (int_rec_impressions_joined_to_served_lists: the platform echoed its id, or showed the
-- learner's latest served list with that course), and as clicked, enrolled or completed when
-- that impression was (int_rec_impressions_joined_to_outcomes): the same attribution as
-- recommendation_kpis, so the two reconcile.
with

-- The read API's lists: the learner page's (our own app, no impression events) are logged for
-- audit and export, not counted here.
served as (

    select * from {{ ref('stg_pathwise__served_recommendations') }}
    where served_via = 'api'

),

impressions as (

    select * from {{ ref('int_rec_impressions_joined_to_outcomes') }}

),

outcomes_per_item as (

    select
        served_rec_id,
        {{ dbt.bool_or('is_clicked') }} as was_clicked,
        {{ dbt.bool_or('is_enrolled_after_click') }} as was_enrolled,
        {{ dbt.bool_or('is_completed_after_click') }} as was_completed

    from impressions
    where served_rec_id is not null
    group by served_rec_id

),

served_outcomes as (

    select
        cast(served.served_at as date) as served_date,
        coalesce(served.surface, 'unknown') as surface,
        coalesce(served.model_version, 'unknown') as model_version,
        served.cold_start,
        served.is_boosted,
        served.learner_key,
        outcomes_per_item.served_rec_id is not null as was_impressed,
        coalesce(outcomes_per_item.was_clicked, false) as was_clicked,
        coalesce(outcomes_per_item.was_enrolled, false) as was_enrolled,
        coalesce(outcomes_per_item.was_completed, false) as was_completed

    from served
    left join outcomes_per_item
        on served.rec_id = outcomes_per_item.served_rec_id

),

counted as (

    select
        served_date,
        surface,
        model_version,
        cold_start,
        is_boosted,
        count(*) as served_count,
        count(distinct learner_key) as learner_count,
        sum(case when was_impressed then 1 else 0 end) as impression_count,
        sum(case when was_clicked then 1 else 0 end) as click_count,
        sum(case when was_enrolled then 1 else 0 end) as enrolment_count,
        sum(case when was_completed then 1 else 0 end) as completion_count

    from served_outcomes
    group by served_date, surface, model_version, cold_start, is_boosted

),

final as (

    select
        served_date,
        surface,
        model_version,
        cold_start,
        is_boosted,
        cast(served_count as {{ dbt.type_bigint() }}) as served_count,
        cast(learner_count as {{ dbt.type_bigint() }}) as learner_count,
        cast(impression_count as {{ dbt.type_bigint() }}) as impression_count,
        cast(click_count as {{ dbt.type_bigint() }}) as click_count,
        cast(enrolment_count as {{ dbt.type_bigint() }}) as enrolment_count,
        cast(completion_count as {{ dbt.type_bigint() }}) as completion_count,
        cast(click_count as double) / nullif(impression_count, 0) as ctr,
        cast(enrolment_count as double) / nullif(impression_count, 0) as enrolment_rate

    from counted

)

select * from final
