-- One row per learner: the aggregated interaction patterns the learning-style detector reads.
-- Fine-grained signals (skips, rewinds, pauses) appear only for learners whose latest fine-tier
-- consent is a grant; for everyone else every signal column is null, so nothing downstream can
-- use them. Per module format: quiz results and pace (minutes spent per planned minute).
{% set formats = [('video', 'video'), ('reading', 'reading'), ('hands_on', 'hands-on')] %}

with

consents as (

    select * from {{ ref('stg_pathwise__consents') }}

),

fine_signals_daily as (

    select * from {{ ref('stg_pathwise__fine_signals_daily') }}

),

activity_daily as (

    select * from {{ ref('int_learner_course_activity_daily') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

module_starts as (

    select * from {{ ref('stg_pathwise__module_starts') }}

),

module_completions as (

    select * from {{ ref('stg_pathwise__module_completions') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

),

learners as (

    select * from {{ ref('learners') }}

),

latest_fine_consents as (

    select
        learner_key,
        arg_max(is_granted, changed_at) as is_granted

    from consents
    where consent_tier = 'fine'
    group by learner_key

),

consented as (

    select learner_key from latest_fine_consents
    where is_granted

),

-- Fine signals are stored per ingest batch and course: sum them per learner and day.
fine_days as (

    select
        fine_signals_daily.learner_key,
        fine_signals_daily.activity_date,
        sum(fine_signals_daily.skip_count) as skips,
        sum(fine_signals_daily.rewind_count) as rewinds,
        sum(fine_signals_daily.pause_count) as pauses

    from fine_signals_daily
    inner join consented
        on fine_signals_daily.learner_key = consented.learner_key
    group by fine_signals_daily.learner_key, fine_signals_daily.activity_date

),

fine_totals as (

    select
        learner_key,
        min(activity_date) as first_fine_date,
        sum(skips) as skips,
        sum(rewinds) as rewinds,
        sum(pauses) as pauses

    from fine_days
    group by learner_key

),

-- Video minutes watched while fine signals were being collected: the rates' denominator.
video_minutes as (

    select
        activity_daily.learner_key,
        sum(activity_daily.video_minutes) as video_minutes

    from activity_daily
    inner join fine_totals
        on activity_daily.learner_key = fine_totals.learner_key
        and activity_daily.activity_date >= fine_totals.first_fine_date
    group by activity_daily.learner_key

),

module_formats as (

    select
        course_id,
        module_id,
        duration_minutes,
        replace(module_format, '-', '_') as module_format

    from modules
    where module_format in ('video', 'reading', 'hands-on')

),

-- First attempt of each quiz, by the format of its module.
quiz_scores as (

    select
        quiz_submissions.learner_key,
        module_formats.module_format,
        arg_min(quiz_submissions.score, quiz_submissions.submitted_at) as score

    from quiz_submissions
    inner join module_formats
        on quiz_submissions.course_id = module_formats.course_id
        and quiz_submissions.module_id = module_formats.module_id
    where quiz_submissions.score is not null
    group by
        quiz_submissions.learner_key,
        module_formats.module_format,
        quiz_submissions.course_id,
        quiz_submissions.module_id

),

-- Minutes from a module's first start to its first completion per planned minute, for modules
-- done within one day (longer gaps are time away, not study).
module_paces as (

    select
        module_starts.learner_key,
        module_formats.module_format,
        {{ dbt.datediff('min(module_starts.started_at)', 'min(module_completions.completed_at)', 'second') }}
            / 60.0 / max(module_formats.duration_minutes) as pace

    from module_starts
    inner join module_completions
        on module_starts.learner_key = module_completions.learner_key
        and module_starts.course_id = module_completions.course_id
        and module_starts.module_id = module_completions.module_id
    inner join module_formats
        on module_starts.course_id = module_formats.course_id
        and module_starts.module_id = module_formats.module_id
    where module_formats.duration_minutes > 0
    group by
        module_starts.learner_key,
        module_formats.module_format,
        module_starts.course_id,
        module_starts.module_id
    having min(module_completions.completed_at) > min(module_starts.started_at)
        and {{ dbt.datediff('min(module_starts.started_at)', 'min(module_completions.completed_at)', 'hour') }} < 24

),

quiz_by_format as (

    select
        learner_key,
        {% for name, _ in formats %}
        avg(case when module_format = '{{ name }}' then score end) as quiz_score_{{ name }},
        count(case when module_format = '{{ name }}' then score end) as quizzes_{{ name }},
        {% endfor %}

    from quiz_scores
    group by learner_key

),

pace_by_format as (

    select
        learner_key,
        {% for name, _ in formats %}
        median(case when module_format = '{{ name }}' then pace end) as pace_{{ name }},
        {% endfor %}

    from module_paces
    group by learner_key

),

final as (

    select
        -- grain: learner
        learners.learner_key,
        consented.learner_key is not null as has_fine_consent,

        -- fine-grained video behaviour per hour of video (consented learners only)
        cast(video_minutes.video_minutes as double) as video_minutes,
        cast(60.0 * fine_totals.skips / nullif(video_minutes.video_minutes, 0) as double)
            as skips_per_video_hour,
        cast(60.0 * fine_totals.rewinds / nullif(video_minutes.video_minutes, 0) as double)
            as rewinds_per_video_hour,
        cast(60.0 * fine_totals.pauses / nullif(video_minutes.video_minutes, 0) as double)
            as pauses_per_video_hour,

        -- results and pace by module format (consented learners only)
        {% for name, _ in formats %}
        cast(
            case when consented.learner_key is not null then quiz_by_format.quiz_score_{{ name }} end
            as double
        ) as quiz_score_{{ name }},
        cast(
            case when consented.learner_key is not null then quiz_by_format.quizzes_{{ name }} end
            as {{ dbt.type_int() }}
        ) as quizzes_{{ name }},
        cast(
            case when consented.learner_key is not null then pace_by_format.pace_{{ name }} end
            as double
        ) as pace_{{ name }}{{ "," if not loop.last }}
        {% endfor %}

    from learners
    left join consented
        on learners.learner_key = consented.learner_key
    left join fine_totals
        on learners.learner_key = fine_totals.learner_key
    left join video_minutes
        on learners.learner_key = video_minutes.learner_key
    left join quiz_by_format
        on learners.learner_key = quiz_by_format.learner_key
    left join pace_by_format
        on learners.learner_key = pace_by_format.learner_key

)

select * from final
