-- One row per catalog course: the catalog's own columns, how many modules it has and the format
-- most of them teach in (for courses whose catalog entry names no primary format); its
-- difficulty and duration with what the metadata review queue accepted
-- (pathwise/metadata_queue.py) applied, and where each comes from.
with

courses as (

    select * from {{ ref('stg_pathwise__courses') }}

),

module_summaries as (

    select * from {{ ref('int_modules_aggregated_to_courses') }}

),

accepted_metadata as (

    select * from {{ ref('stg_pathwise__accepted_course_metadata') }}

),

-- The newest accepted difficulty and duration per course (an older acceptance of the same kind
-- is one a reviewer has since replaced).
accepted_ranked as (

    select
        course_id,
        metadata_kind,
        metadata_value,
        row_number() over (
            partition by course_id, metadata_kind
            order by accepted_at desc, suggestion_id desc
        ) as acceptance_rank

    from accepted_metadata
    where metadata_kind in ('difficulty', 'duration')

),

-- A 1-5 score maps to the catalog's 1-3 level as the agent's models do
-- (agents/metadata/models.py: 1-2 beginner, 3 intermediate, 4-5 advanced).
accepted_difficulties as (

    select
        course_id,
        case
            when cast(metadata_value as {{ dbt.type_int() }}) <= 2 then 1
            when cast(metadata_value as {{ dbt.type_int() }}) = 3 then 2
            else 3
        end as accepted_difficulty

    from accepted_ranked
    where metadata_kind = 'difficulty' and acceptance_rank = 1

),

accepted_durations as (

    select
        course_id,
        cast(metadata_value as double) as accepted_minutes

    from accepted_ranked
    where metadata_kind = 'duration' and acceptance_rank = 1

),

joined as (

    select
        courses.*,
        module_summaries.module_count,
        module_summaries.module_format,
        case when module_summaries.planned_minutes > 0 then module_summaries.planned_minutes end
            as catalog_minutes,
        accepted_difficulties.accepted_difficulty,
        accepted_durations.accepted_minutes

    from courses
    left join module_summaries
        on courses.course_id = module_summaries.course_id
    left join accepted_difficulties
        on courses.course_id = accepted_difficulties.course_id
    left join accepted_durations
        on courses.course_id = accepted_durations.course_id

),

-- An accepted difficulty overrides the catalog's (the agent suggests one only where the catalog
-- has none or disagrees, so accepting it is the reviewer's correction); an accepted duration
-- only fills a course whose modules have none.
final as (

    select
        -- ids
        course_id,
        instructor_id,

        -- text
        course_title,
        course_description,

        -- attributes
        category,
        language,
        primary_format,
        cast(coalesce(accepted_difficulty, difficulty) as {{ dbt.type_int() }}) as difficulty,
        case coalesce(accepted_difficulty, difficulty)
            when 1 then 'beginner'
            when 2 then 'intermediate'
            when 3 then 'advanced'
        end as difficulty_label,
        case
            when accepted_difficulty is not null then 'accepted'
            when difficulty is not null then 'catalog'
        end as difficulty_source,
        difficulty as catalog_difficulty,

        -- modules
        cast(coalesce(module_count, 0) as {{ dbt.type_int() }}) as module_count,
        module_format,
        cast(coalesce(catalog_minutes, accepted_minutes) as double)
            as duration_minutes,
        case
            when catalog_minutes is not null then 'catalog'
            when accepted_minutes is not null then 'accepted'
        end as duration_source,

        loaded_at

    from joined

)

select * from final
