-- One row per day, surface, model version and learner segment: how recommendations performed
-- (the Control Tower's numbers). The model version is the one that produced the list the learner
-- saw: the read API's served list the impression is attributed to, else the label of the
-- platform's impression event (kept beside it as `impression_model_version`). Clicks,
-- enrolments, completions and ratings are attributed to the day the recommendation was shown.
-- Rows describing fewer than `var('k_anonymity')` distinct learners are left out
-- (k-anonymity): totals over this table can be below the true totals.
with

impressions as (

    select * from {{ ref('int_rec_impressions_joined_to_outcomes') }}

),

aggregated as (

    select
        shown_on,
        surface,
        model_version,
        impression_model_version,
        segment,
        count(distinct learner_key) as learner_count,
        count(*) as impression_count,
        sum(case when attribution = 'rec_id' then 1 else 0 end) as attributed_by_id_count,
        sum(case when attribution = 'latest_served_list' then 1 else 0 end)
            as attributed_by_recency_count,
        sum(case when is_clicked then 1 else 0 end) as click_count,
        sum(case when is_enrolled_after_click then 1 else 0 end) as enrolment_count,
        sum(case when is_completed_after_click then 1 else 0 end) as completion_count,
        avg(stars_after_click) as avg_rating,
        count(stars_after_click) as rating_count

    from impressions
    group by 1, 2, 3, 4, 5

),

k_anonymous as (

    select * from aggregated
    where learner_count >= {{ var('k_anonymity') }}

),

final as (

    select
        cast(shown_on as date) as activity_date,
        cast(surface as {{ dbt.type_string() }}) as surface,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(impression_model_version as {{ dbt.type_string() }}) as impression_model_version,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(learner_count as {{ dbt.type_bigint() }}) as learner_count,
        cast(impression_count as {{ dbt.type_bigint() }}) as impression_count,
        cast(attributed_by_id_count as {{ dbt.type_bigint() }}) as attributed_by_id_count,
        cast(attributed_by_recency_count as {{ dbt.type_bigint() }})
            as attributed_by_recency_count,
        cast(click_count as {{ dbt.type_bigint() }}) as click_count,
        cast(click_count as double) / nullif(impression_count, 0) as ctr,
        cast(enrolment_count as {{ dbt.type_bigint() }}) as enrolment_count,
        cast(enrolment_count as double) / nullif(click_count, 0) as enrolment_rate,
        cast(completion_count as {{ dbt.type_bigint() }}) as completion_count,
        cast(completion_count as double) / nullif(enrolment_count, 0) as completion_rate,
        cast(avg_rating as double) as avg_rating,
        cast(rating_count as {{ dbt.type_bigint() }}) as rating_count

    from k_anonymous

)

select * from final
