with

source as (

    select * from {{ source('pathwise', 'qa_outcomes') }}

),

final as (

    select
        -- ids
        outcome_id,
        course_id,

        -- attributes
        scope as question_scope,
        trim(module) as module_title,
        grade as answer_grade,

        -- dates
        asked_on,
        loaded_at

    from source

)

select * from final
