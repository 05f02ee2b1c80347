-- One row per course and enrolment week (a cohort) as the course's instructor sees it: how many
-- enrolled and how many of them have completed. k-anonymous with complementary suppression (doc
-- block `k_anonymity`): a week of fewer than `var('k_anonymity')` enrolments is withheld, and so
-- are the course's next smallest weeks until the withheld weeks hold at least k learners between
-- them; otherwise the course total (`instructor_course_summaries`) minus the weeks shown would
-- give the hidden week away. Withheld weeks keep their row with null figures.
{% set k_anonymity = var('k_anonymity') %}

with

enrolments as (

    select * from {{ ref('int_enrolments_joined_to_courses') }}

),

weekly as (

    select
        course_id,
        course_title,
        instructor_id,
        enrolment_week as period_week,
        count(*) as enrolment_count,
        sum(case when status = 'completed' then 1 else 0 end) as completion_count

    from enrolments
    group by course_id, course_title, instructor_id, enrolment_week

),

-- Weeks from the smallest up: the learners in the course's smaller weeks, and in its weeks
-- under k (the primary suppressions).
ranked as (

    select
        *,
        coalesce(sum(enrolment_count) over (
            partition by course_id
            order by enrolment_count, period_week
            rows between unbounded preceding and 1 preceding
        ), 0) as smaller_weeks_learner_count,
        sum(case when enrolment_count < {{ k_anonymity }} then enrolment_count else 0 end) over (
            partition by course_id
        ) as under_k_learner_count

    from weekly

),

-- Withheld: every week under k, and while any is, the smallest weeks up to the first that
-- brings the withheld learners to k (a prefix of the weeks by size, so at least k in all).
suppressed as (

    select
        *,
        (
            enrolment_count < {{ k_anonymity }}
            or (
                under_k_learner_count > 0
                and smaller_weeks_learner_count < {{ k_anonymity }}
            )
        ) as is_withheld

    from ranked

),

final as (

    select
        cast(suppressed.course_id as {{ dbt.type_string() }}) as course_id,
        cast(suppressed.course_title as {{ dbt.type_string() }}) as course_title,
        cast(suppressed.instructor_id as {{ dbt.type_string() }}) as instructor_id,
        cast(suppressed.period_week as date) as period_week,
        cast(suppressed.is_withheld as {{ dbt.type_boolean() }}) as is_withheld,
        cast(
            case when not suppressed.is_withheld then suppressed.enrolment_count end
            as {{ dbt.type_bigint() }}
        ) as enrolment_count,
        cast(
            case when not suppressed.is_withheld then suppressed.completion_count end
            as {{ dbt.type_bigint() }}
        ) as completion_count,
        case
            when not suppressed.is_withheld
                then cast(suppressed.completion_count as double) / suppressed.enrolment_count
        end as completion_rate

    from suppressed

)

select * from final
