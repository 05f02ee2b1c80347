-- One row per learner with learning activity or fine-grained video signals: active video days
-- (new video ground covered, or consented seeks and pauses), the video minutes since fine signals
-- began and the fine-signal totals, the inputs of the learning-style signals. Fine signals exist
-- only for days a fine-tier consent was in force.
with

fine_signals_daily as (

    select * from {{ ref('stg_pathwise__fine_signals_daily') }}

),

activity_daily as (

    select * from {{ ref('int_learner_course_activity_daily') }}

),

-- Fine signals are stored per ingest batch and course: sum them per learner and day.
fine_days as (

    select
        learner_key,
        activity_date,
        sum(seek_count) as seek_count,
        sum(rewind_count) as rewind_count,
        sum(skip_count) as skip_count,
        sum(pause_count) as pause_count

    from fine_signals_daily
    group by learner_key, activity_date

),

-- Video minutes per learner and day (null on days with fine signals and no learning activity).
video_days as (

    select
        learner_key,
        activity_date,
        sum(video_minutes) as video_minutes

    from activity_daily
    group by learner_key, activity_date

),

learner_days as (

    select
        coalesce(video_days.learner_key, fine_days.learner_key) as learner_key,
        coalesce(video_days.activity_date, fine_days.activity_date) as activity_date,
        video_days.video_minutes,
        fine_days.seek_count,
        fine_days.rewind_count,
        fine_days.skip_count,
        fine_days.pause_count,
        -- Active video day: video progress, or consented fine-grained video behaviour.
        coalesce(video_days.video_minutes, 0) > 0 or fine_days.seek_count is not null
            as is_video_day

    from video_days
    full outer join fine_days
        on video_days.learner_key = fine_days.learner_key
        and video_days.activity_date = fine_days.activity_date

),

-- A video day without any recorded seek or pause still counts once fine signals are being
-- collected (from the learner's first fine-signal day), else quiet days would inflate the rates.
dated as (

    select
        *,
        min(case when seek_count is not null then activity_date end)
            over (partition by learner_key) as first_fine_signal_date

    from learner_days

),

final as (

    select
        learner_key,
        min(first_fine_signal_date) as first_fine_signal_date,
        sum(case when is_video_day then 1 else 0 end) as video_active_days,
        sum(
            case when is_video_day and activity_date >= first_fine_signal_date then 1 else 0 end
        ) as consented_video_days,
        sum(
            case when activity_date >= first_fine_signal_date then video_minutes end
        ) as consented_video_minutes,
        sum(coalesce(seek_count, 0)) as seek_count,
        sum(coalesce(rewind_count, 0)) as rewind_count,
        sum(coalesce(skip_count, 0)) as skip_count,
        sum(coalesce(pause_count, 0)) as pause_count

    from dated
    group by learner_key

)

select * from final
