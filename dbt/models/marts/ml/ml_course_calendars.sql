-- One row per course: when its clock starts and how long it runs, the time base of the dropout
-- model's checkpoints ("10% of the course length").
--
-- - OULAD presentations (`oulad:AAA-2013J`, see pathwise/sources/oulad.py) are cohort courses:
--   everyone's clock starts at the presentation start (B = 1 February, J = 1 October, 12:00 UTC,
--   the importer's convention) and runs for the presentation length the catalog states; else
--   the module plan (study minutes at the OU workload of 16 h a week).
-- - Every other course is self-paced: each learner's clock starts at their enrolment, and the
--   length is the median time enrolled learners took to complete it (at least 5 completions),
--   else its planned minutes at the platform-wide median pace (days per planned minute).
{% set ou_study_minutes_per_day = 16 * 60 / 7 %}
{% set min_completions = 5 %}

with

courses as (

    select * from {{ ref('stg_pathwise__courses') }}

),

modules as (

    select * from {{ ref('stg_pathwise__modules') }}

),

enrolments as (

    select * from {{ ref('stg_pathwise__enrolments') }}

),

course_ends as (

    select * from {{ ref('stg_pathwise__course_ends') }}

),

-- Courses seen in the catalog or in enrolments (imported data can be partial).
all_courses as (

    select course_id from courses
    union
    select distinct course_id from enrolments

),

planned as (

    select
        course_id,
        sum(duration_minutes) as planned_minutes

    from modules
    group by course_id

),

presentations as (

    select
        all_courses.course_id,
        make_timestamp(
            cast(regexp_extract(all_courses.course_id, '-([0-9]{4})[BJ]$', 1) as integer),
            case when all_courses.course_id like '%B' then 2 else 10 end,
            1, 12, 0, 0
        ) as starts_at,
        try_cast(
            regexp_extract(courses.course_description, 'presentation: ([0-9]+) days', 1)
            as integer
        ) as stated_days

    from all_courses
    left join courses
        on all_courses.course_id = courses.course_id
    where regexp_matches(all_courses.course_id, '^oulad:[A-Z]+-[0-9]{4}[BJ]$')

),

first_completions as (

    select
        enrolments.learner_key,
        enrolments.course_id,
        min(enrolments.enrolled_at) as enrolled_at,
        min(course_ends.ended_at) as completed_at

    from enrolments
    inner join course_ends
        on enrolments.learner_key = course_ends.learner_key
        and enrolments.course_id = course_ends.course_id
        and course_ends.is_completed
        and enrolments.enrolled_at <= course_ends.ended_at
    group by enrolments.learner_key, enrolments.course_id

),

observed as (

    select
        course_id,
        count(*) as completions,
        median(
            {{ dbt.datediff(
                'enrolled_at', 'completed_at', 'second'
            ) }} / 86400.0
        ) as median_days

    from first_completions
    group by course_id

),

pace as (

    select median(observed.median_days / planned.planned_minutes) as days_per_planned_minute

    from observed
    inner join planned
        on observed.course_id = planned.course_id
    where observed.completions >= {{ min_completions }}
        and planned.planned_minutes > 0

),

final as (

    select
        all_courses.course_id,
        case when presentations.course_id is not null then 'cohort' else 'self_paced' end
            as schedule,
        presentations.starts_at,
        cast(
            case
                when presentations.stated_days > 0 then presentations.stated_days
                when presentations.course_id is not null
                    then planned.planned_minutes / {{ ou_study_minutes_per_day }}
                when observed.completions >= {{ min_completions }}
                    then greatest(observed.median_days, 1)
                else greatest(planned.planned_minutes * pace.days_per_planned_minute, 1)
            end as double
        ) as length_days,
        case
            when presentations.stated_days > 0 then 'catalog'
            when presentations.course_id is not null then 'module_plan'
            when observed.completions >= {{ min_completions }} then 'observed_completions'
            when planned.planned_minutes * pace.days_per_planned_minute > 0 then 'planned_pace'
        end as length_source

    from all_courses
    left join presentations
        on all_courses.course_id = presentations.course_id
    left join planned
        on all_courses.course_id = planned.course_id
    left join observed
        on all_courses.course_id = observed.course_id
    cross join pace

)

select * from final
