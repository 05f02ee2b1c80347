with

source as (

    select * from {{ source('pathwise', 'fine_signals_daily') }}

),

final as (

    select
        -- grain: learner x course x day (x batch)
        learner_key,
        course_id,
        activity_date,

        -- counts
        seeks as seek_count,
        rewinds as rewind_count,
        skips as skip_count,
        pauses as pause_count,

        -- durations
        rewind_seconds,
        skip_seconds,

        -- lineage
        batch_id

    from source

)

select * from final
