-- One row per catalog course as its instructor sees it (the creator dashboard): enrolments,
-- completions, drops, rating and quiz difficulty. k-anonymous (doc block `k_anonymity`): a
-- course with fewer than `var('k_anonymity')` enrolments shows no figure at all, and its rating
-- only from k ratings. Every count comes from `int_enrolments_joined_to_courses`, as in
-- `instructor_course_weeks` and `instructor_funnel_steps`, so the three add up exactly and no
-- difference between them hides a group of its own.
{% set k_anonymity = var('k_anonymity') %}

with

courses as (

    select * from {{ ref('courses') }}

),

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_courses') }}

),

aggregated as (

    select
        course_id,
        count(*) as enrolment_count,
        sum(case when status = 'completed' then 1 else 0 end) as completion_count,
        sum(case when status = 'dropped' then 1 else 0 end) as drop_count,
        avg(stars) as avg_rating,
        count(stars) as rating_count,
        sum(quiz_attempt_count) as quiz_attempt_count,
        sum(quiz_failed_count) as quiz_failed_count

    from enrolments
    group by course_id

),

k_anonymous as (

    select
        courses.course_id,
        courses.course_title,
        courses.instructor_id,
        coalesce(aggregated.enrolment_count, 0) >= {{ k_anonymity }} as has_enough_learners,
        aggregated.enrolment_count,
        aggregated.completion_count,
        aggregated.drop_count,
        aggregated.avg_rating,
        aggregated.rating_count,
        aggregated.quiz_attempt_count,
        aggregated.quiz_failed_count

    from courses
    left join aggregated
        on courses.course_id = aggregated.course_id

),

final as (

    select
        cast(course_id as {{ dbt.type_string() }}) as course_id,
        cast(course_title as {{ dbt.type_string() }}) as course_title,
        cast(instructor_id as {{ dbt.type_string() }}) as instructor_id,
        cast(has_enough_learners as {{ dbt.type_boolean() }}) as has_enough_learners,
        cast(case when has_enough_learners then enrolment_count end as {{ dbt.type_bigint() }})
            as enrolment_count,
        cast(case when has_enough_learners then completion_count end as {{ dbt.type_bigint() }})
            as completion_count,
        cast(case when has_enough_learners then drop_count end as {{ dbt.type_bigint() }})
            as drop_count,
        case
            when has_enough_learners then cast(completion_count as double) / enrolment_count
        end as completion_rate,
        case
            when has_enough_learners then cast(drop_count as double) / enrolment_count
        end as drop_rate,
        case
            when has_enough_learners and rating_count >= {{ k_anonymity }}
                then cast(avg_rating as double)
        end as avg_rating,
        case
            when has_enough_learners
                then cast(quiz_failed_count as double) / nullif(quiz_attempt_count, 0)
        end as quiz_fail_share,
        cast({{ k_anonymity }} as {{ dbt.type_int() }}) as k_anonymity

    from k_anonymous

)

select * from final
