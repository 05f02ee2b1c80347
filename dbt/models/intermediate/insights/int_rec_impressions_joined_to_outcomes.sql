-- One row per recommendation impression with what followed: a click on it (same list `rec_id`
-- and course), an enrolment in that course carrying the clicked `rec_id`, completion of the
-- course and the learner's rating of it; plus the learner's segment (target-role family) and
-- the model version that produced the list the learner saw (the read API's served list it is
-- attributed to, int_rec_impressions_joined_to_served_lists, else the event's own label).
with

impressions as (

    select * from {{ ref('int_rec_impressions_joined_to_served_lists') }}

),

clicks as (

    select * from {{ ref('stg_pathwise__rec_clicks') }}

),

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

outcomes as (

    select * from {{ ref('int_enrolments_joined_to_outcomes') }}

),

learners as (

    select * from {{ ref('int_learners_segmented') }}

),

clicked as (

    select distinct
        learner_key,
        rec_id,
        course_id

    from clicks

),

enrolled as (

    select distinct
        learner_key,
        rec_id,
        course_id

    from enrolments
    where rec_id is not null

),

joined as (

    select
        impressions.event_id,
        impressions.learner_key,
        impressions.course_id,
        impressions.rec_id,
        impressions.shown_at,
        cast({{ dbt.date_trunc('day', 'impressions.shown_at') }} as date) as shown_on,
        coalesce(impressions.surface, 'unknown') as surface,
        impressions.model_version,
        impressions.impression_model_version,
        impressions.attribution,
        impressions.served_rec_id,
        coalesce(learners.role_family, 'unknown') as segment,
        clicked.rec_id is not null as is_clicked,
        clicked.rec_id is not null and enrolled.rec_id is not null as is_enrolled_after_click,
        outcomes.is_completed,
        outcomes.stars

    from impressions
    left join learners
        on impressions.learner_key = learners.learner_key
    left join clicked
        on impressions.learner_key = clicked.learner_key
        and impressions.rec_id = clicked.rec_id
        and impressions.course_id = clicked.course_id
    left join enrolled
        on impressions.learner_key = enrolled.learner_key
        and impressions.rec_id = enrolled.rec_id
        and impressions.course_id = enrolled.course_id
    left join outcomes
        on impressions.learner_key = outcomes.learner_key
        and impressions.course_id = outcomes.course_id

),

final as (

    select
        event_id,
        learner_key,
        course_id,
        rec_id,
        shown_at,
        shown_on,
        surface,
        model_version,
        impression_model_version,
        attribution,
        served_rec_id,
        segment,
        is_clicked,
        is_enrolled_after_click,
        is_enrolled_after_click and coalesce(is_completed, false) as is_completed_after_click,
        case when is_enrolled_after_click then stars end as stars_after_click

    from joined

)

select * from final
