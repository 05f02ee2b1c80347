-- One row per learner x course interaction event: what the recommender trains on. Kinds: an
-- enrolment; progress (the first completion of each module, worth its share of the course's
-- catalog modules); the end of the course (passed, failed or dropped); a rating (its stars); a
-- click on a recommendation; a scored quiz attempt (its score). `event_id` is the event behind
-- the row (for progress, the module's first completion).
with

interactions as (

    select * from {{ ref('int_course_interactions_unioned') }}

),

-- Learners who object to profiling (GDPR Art. 21, CCPA "do not share"): no model reads them.
profiling_objections as (

    select * from {{ ref('int_learners_objecting_to_profiling') }}

),

final as (

    select
        interactions.event_id,
        interactions.learner_key,
        interactions.course_id,
        interactions.interaction_kind,
        interactions.interacted_at,
        cast(interactions.interaction_value as double) as interaction_value

    from interactions
    left join profiling_objections
        on interactions.learner_key = profiling_objections.learner_key
    where profiling_objections.learner_key is null

)

select * from final
