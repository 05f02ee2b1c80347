-- Learner cohorts: course x enrolment month x progress band x activity band, with k-anonymity.
-- A cohort with fewer than `k_anonymity` learners is left out entirely (not shown with a
-- masked count), so no row describes fewer than k people.
{% set k_anonymity = var('k_anonymity') %}

with

progress as (

    select * from {{ ref('learner_course_progress') }}

),

-- Courses missing from the catalog have no progress band and are not in any cohort.
banded as (

    select * from progress
    where progress_band is not null

),

aggregated as (

    select
        course_id,
        enrolment_month,
        progress_band,
        activity_band,
        count(*) as learner_count,
        avg(case when status = 'active' then 1.0 else 0.0 end) as active_share,
        avg(case when status = 'completed' then 1.0 else 0.0 end) as completion_share,
        avg(percent_complete) as avg_percent_complete,
        avg(case when is_at_risk then 1.0 else 0.0 end) as at_risk_share

    from banded
    group by course_id, enrolment_month, progress_band, activity_band

),

k_anonymous as (

    select * from aggregated
    where learner_count >= {{ k_anonymity }}

),

final as (

    select
        -- grain: course x enrolment month x progress band x activity band
        course_id,
        enrolment_month,
        progress_band,
        activity_band,

        -- measures
        cast(learner_count as {{ dbt.type_int() }}) as learner_count,
        cast(round(active_share, 4) as double) as active_share,
        cast(round(completion_share, 4) as double) as completion_share,
        cast(round(avg_percent_complete, 1) as double) as avg_percent_complete,
        cast(round(at_risk_share, 4) as double) as at_risk_share

    from k_anonymous

)

select * from final
