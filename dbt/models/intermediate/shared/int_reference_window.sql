-- One row: "now" for every report, the latest event in the warehouse (not the clock, so results
-- are reproducible), and the 7-day windows before it. A table: one scan of the events per build.

with

events as (

    select * from {{ ref('base_pathwise__events') }}

),

final as (

    select
        max(occurred_at) as window_end_at,
        max(occurred_on) as reference_date,
        {{ dbt.dateadd('day', -7, 'max(occurred_at)') }} as window_7d_start_at,
        {{ dbt.dateadd('day', -14, 'max(occurred_at)') }} as window_prev_7d_start_at

    from events

)

select * from final
