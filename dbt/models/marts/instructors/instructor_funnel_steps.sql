-- One row per course and funnel step as the course's instructor sees it: learners whose last
-- completed module falls within the step's modules, how many of them dropped the course, and how
-- many completed the step's first module (the funnel). k-anonymous by banding (doc block
-- `k_anonymity`): consecutive module positions are merged into steps of at least
-- `var('k_anonymity')` learners each, so every difference between two funnel points is a union
-- of whole steps, never a group under k. A course with fewer than k enrolments has no step.
{% set k_anonymity = var('k_anonymity') %}

with

per_position as (

    select * from {{ ref('int_enrolments_aggregated_to_module_positions') }}

),

-- Bands by learners before a position: positions whose earlier learners fall within the same
-- multiple of k form one band. The first band holds at least k learners unless it is the
-- whole course; a later band may hold fewer.
banded as (

    select
        *,
        floor(cast(coalesce(sum(learner_count) over (
            partition by course_id
            order by module_position
            rows between unbounded preceding and 1 preceding
        ), 0) as double) / {{ k_anonymity }}) as band

    from per_position

),

bands as (

    select
        course_id,
        band,
        min(module_position) as first_position,
        sum(learner_count) as learner_count

    from banded
    group by course_id, band

),

-- A band under k joins the nearest band before it that holds k (the first one does), so every
-- step holds at least k learners; a course whose first band holds fewer has no step.
anchored as (

    select
        course_id,
        band,
        max(case when learner_count >= {{ k_anonymity }} then first_position end) over (
            partition by course_id
            order by first_position
            rows between unbounded preceding and current row
        ) as step_first_position

    from bands

),

steps as (

    select
        banded.course_id,
        banded.instructor_id,
        anchored.step_first_position as first_module_position,
        max(banded.module_position) as last_module_position,
        max(case
            when banded.module_position = anchored.step_first_position then banded.module_title
        end) as first_module_title,
        sum(banded.learner_count) as learner_count,
        sum(banded.dropped_count) as dropped_count

    from banded
    inner join anchored
        on banded.course_id = anchored.course_id
        and banded.band = anchored.band
    where anchored.step_first_position is not null
    group by banded.course_id, banded.instructor_id, anchored.step_first_position

),

funnel as (

    select
        *,
        row_number() over (
            partition by course_id order by first_module_position
        ) as step_number,
        sum(learner_count) over (
            partition by course_id
            order by first_module_position
            rows between current row and unbounded following
        ) as reached_count,
        sum(learner_count) over (partition by course_id) as enrolment_count

    from steps

),

final as (

    select
        cast(funnel.course_id as {{ dbt.type_string() }}) as course_id,
        cast(funnel.instructor_id as {{ dbt.type_string() }}) as instructor_id,
        cast(funnel.step_number as {{ dbt.type_int() }}) as step_number,
        cast(funnel.first_module_position as {{ dbt.type_int() }}) as first_module_position,
        cast(funnel.last_module_position as {{ dbt.type_int() }}) as last_module_position,
        cast(funnel.first_module_title as {{ dbt.type_string() }}) as first_module_title,
        cast(funnel.learner_count as {{ dbt.type_bigint() }}) as learner_count,
        cast(funnel.dropped_count as {{ dbt.type_bigint() }}) as dropped_count,
        cast(funnel.reached_count as {{ dbt.type_bigint() }}) as reached_count,
        cast(funnel.reached_count as double) / funnel.enrolment_count as reached_share

    from funnel

)

select * from final
