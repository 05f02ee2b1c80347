-- One row per `enroll` event with what the platform says about the attempt: which attempt at
-- the course it is and the learner's workload (credits studied in the period). Kept beside
-- stg_pathwise__enrolments (its sibling on the same events) while the staging layer is being
-- restructured; both properties are optional, so most rows may hold nulls.
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

enroll_events as (

    select * from {{ ref('base_pathwise__events') }}
    where event_type = 'enroll'
        and {{ new_batches_only() }}

),

final as (

    select
        event_id,
        learner_key,
        course_id,
        occurred_at as enrolled_at,

        -- properties
        {{ json_int('properties', 'attempt') }} as attempt_number,
        {{ json_int('properties', 'studied_credits') }} as studied_credits,

        -- lineage
        batch_id,
        loaded_at

    from enroll_events

)

select * from final
