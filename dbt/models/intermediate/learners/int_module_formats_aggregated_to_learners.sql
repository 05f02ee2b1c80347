-- One row per learner with a scored quiz or a timed module in a catalog module of known format:
-- per module format (video, reading, hands-on), the mean first-attempt quiz score and the median
-- pace (minutes from a module's first start to its first completion, per planned minute).

with

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

module_starts as (

    select * from {{ ref('stg_pathwise__module_starts') }}

),

module_completions as (

    select * from {{ ref('int_module_completions_deduplicated') }}

),

quiz_submissions as (

    select * from {{ ref('stg_pathwise__quiz_submissions') }}

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
        {{ dbt.datediff(
            'min(module_starts.started_at)', 'min(module_completions.completed_at)', 'second'
        ) }} / 60.0 / max(module_formats.duration_minutes) as pace

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
    having
        min(module_completions.completed_at) > min(module_starts.started_at)
        and {{ dbt.datediff(
            'min(module_starts.started_at)', 'min(module_completions.completed_at)', 'hour'
        ) }} < 24

),

quiz_by_format as (

    select
        learner_key,
        avg(case when module_format = 'video' then score end) as quiz_score_video,
        count(case when module_format = 'video' then score end) as quizzes_video,
        avg(case when module_format = 'reading' then score end) as quiz_score_reading,
        count(case when module_format = 'reading' then score end) as quizzes_reading,
        avg(case when module_format = 'hands_on' then score end) as quiz_score_hands_on,
        count(case when module_format = 'hands_on' then score end) as quizzes_hands_on

    from quiz_scores
    group by learner_key

),

pace_by_format as (

    select
        learner_key,
        median(case when module_format = 'video' then pace end) as pace_video,
        median(case when module_format = 'reading' then pace end) as pace_reading,
        median(case when module_format = 'hands_on' then pace end) as pace_hands_on

    from module_paces
    group by learner_key

),

learners as (

    select learner_key from quiz_by_format
    union
    select learner_key from pace_by_format

),

final as (

    select
        learners.learner_key,
        quiz_by_format.quiz_score_video,
        quiz_by_format.quizzes_video,
        pace_by_format.pace_video,
        quiz_by_format.quiz_score_reading,
        quiz_by_format.quizzes_reading,
        pace_by_format.pace_reading,
        quiz_by_format.quiz_score_hands_on,
        quiz_by_format.quizzes_hands_on,
        pace_by_format.pace_hands_on

    from learners
    left join quiz_by_format
        on learners.learner_key = quiz_by_format.learner_key
    left join pace_by_format
        on learners.learner_key = pace_by_format.learner_key

)

select * from final
