-- One row per learner x course interaction event of every learner, before any is left out (the
-- recommender's input, ml_course_interactions, leaves out those who object to profiling). Kinds:
-- an enrolment; progress (the first completion of each module, worth its share of the course's
-- catalog modules); the end of the course (passed, failed or dropped); a rating (its stars); a
-- click on a recommendation; a scored quiz attempt (its score).
with

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

module_completions as (

    select * from {{ ref('int_module_completions_deduplicated') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

ratings as (

    select * from {{ ref('stg_pathwise__ratings') }}

),

rec_clicks as (

    select * from {{ ref('stg_pathwise__rec_clicks') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

interactions as (

    select
        event_id,
        learner_key,
        course_id,
        'enroll' as interaction_kind,
        enrolled_at as interacted_at,
        1.0 as interaction_value

    from enrolments

    union all

    -- Completions of modules the catalog does not list count too, in courses it does list.
    select
        event_id,
        learner_key,
        course_id,
        'progress' as interaction_kind,
        completed_at as interacted_at,
        1.0 / course_module_count as interaction_value

    from module_completions
    where course_module_count > 0

    union all

    select
        event_id,
        learner_key,
        course_id,
        case
            when is_passed then 'passed'
            when is_completed then 'failed'
            else 'dropped'
        end as interaction_kind,
        ended_at as interacted_at,
        1.0 as interaction_value

    from course_ends

    union all

    select
        event_id,
        learner_key,
        course_id,
        'rating' as interaction_kind,
        rated_at as interacted_at,
        stars as interaction_value

    from ratings

    union all

    select
        event_id,
        learner_key,
        course_id,
        'click' as interaction_kind,
        clicked_at as interacted_at,
        1.0 as interaction_value

    from rec_clicks

    union all

    select
        event_id,
        learner_key,
        course_id,
        'quiz' as interaction_kind,
        submitted_at as interacted_at,
        score as interaction_value

    from quiz_submissions
    where score is not null

)

select * from interactions
