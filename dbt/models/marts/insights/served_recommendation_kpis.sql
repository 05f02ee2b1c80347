-- What the read API served against what learners then did with it, per day and serving context.
-- The join key is rec_id: the API hands one out per served course and the platform echoes it in
-- `rec_impression`, `rec_click` and `enroll` events.
with

served as (

    select * from {{ ref('stg_pathwise__served_recommendations') }}

),

impressions as (

    select * from {{ ref('stg_pathwise__rec_impressions') }}

),

clicks as (

    select * from {{ ref('stg_pathwise__rec_clicks') }}

),

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

impressed as (

    select distinct rec_id from impressions

),

clicked as (

    select distinct rec_id from clicks

),

enrolled as (

    select distinct rec_id from enrolments
    where rec_id is not null

),

served_outcomes as (

    select
        cast(served.served_at as date) as served_date,
        coalesce(served.surface, 'unknown') as surface,
        coalesce(served.model_version, 'unknown') as model_version,
        served.cold_start,
        served.is_boosted,
        served.learner_key,
        impressed.rec_id is not null as was_impressed,
        clicked.rec_id is not null as was_clicked,
        enrolled.rec_id is not null as was_enrolled

    from served
    left join impressed on served.rec_id = impressed.rec_id
    left join clicked on served.rec_id = clicked.rec_id
    left join enrolled on served.rec_id = enrolled.rec_id

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
        sum(case when was_enrolled then 1 else 0 end) as enrolment_count

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
        cast(click_count as double) / nullif(impression_count, 0) as ctr,
        cast(enrolment_count as double) / nullif(impression_count, 0) as enrolment_rate

    from counted

)

select * from final
