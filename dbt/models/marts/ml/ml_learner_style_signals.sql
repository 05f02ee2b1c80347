-- One row per learner: the aggregated interaction patterns the learning-style detector reads.
-- Fine-grained signals (skips, rewinds, pauses) appear only for learners whose latest fine-tier
-- consent is a grant; for everyone else every signal column is null, so nothing downstream can
-- use them. Per module format: quiz results and pace (minutes spent per planned minute).
{% set formats = ['video', 'reading', 'hands_on'] %}

with

learners as (

    select * from {{ ref('int_learner_events_aggregated_to_learners') }}

),

profiles as (

    select * from {{ ref('int_learners_profiled') }}

),

video_activity as (

    select * from {{ ref('int_video_activity_aggregated_to_learners') }}

),

format_results as (

    select * from {{ ref('int_module_formats_aggregated_to_learners') }}

),

consented as (

    select learner_key from profiles
    where has_fine_consent

),

-- Video minutes watched while fine signals were being collected: the rates' denominator.
fine_totals as (

    select
        video_activity.learner_key,
        video_activity.consented_video_minutes as video_minutes,
        video_activity.skip_count as skips,
        video_activity.rewind_count as rewinds,
        video_activity.pause_count as pauses

    from video_activity
    inner join consented
        on video_activity.learner_key = consented.learner_key
    where video_activity.first_fine_signal_date is not null

),

-- Learners who object to profiling (GDPR Art. 21, CCPA "do not share"): no model reads them.
profiling_objections as (

    select learner_key from profiles
    where personalization_opted_out

),

final as (

    select
        -- grain: learner (every learner seen in any event, as in marts.learners)
        learners.learner_key,
        consented.learner_key is not null as has_fine_consent,

        -- results and pace by module format (consented learners only)
        {% for name in formats %}
        cast(
            case
                when consented.learner_key is not null then format_results.quiz_score_{{ name }}
            end as double
        ) as quiz_score_{{ name }},
        cast(
            case
                when consented.learner_key is not null then format_results.quizzes_{{ name }}
            end as {{ dbt.type_int() }}
        ) as quizzes_{{ name }},
        cast(
            case
                when consented.learner_key is not null then format_results.pace_{{ name }}
            end as double
        ) as pace_{{ name }},
        {% endfor %}

        -- fine-grained video behaviour per hour of video (consented learners only)
        cast(fine_totals.video_minutes as double) as video_minutes,
        cast(60.0 * fine_totals.skips / nullif(fine_totals.video_minutes, 0) as double)
            as skips_per_video_hour,
        cast(60.0 * fine_totals.rewinds / nullif(fine_totals.video_minutes, 0) as double)
            as rewinds_per_video_hour,
        cast(60.0 * fine_totals.pauses / nullif(fine_totals.video_minutes, 0) as double)
            as pauses_per_video_hour

    from learners
    left join consented
        on learners.learner_key = consented.learner_key
    left join fine_totals
        on learners.learner_key = fine_totals.learner_key
    left join format_results
        on learners.learner_key = format_results.learner_key
    left join profiling_objections
        on learners.learner_key = profiling_objections.learner_key
    where profiling_objections.learner_key is null

)

select * from final
