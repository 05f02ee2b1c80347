-- One row per recommendation impression with the list of the read API it showed, if any, so
-- that KPIs count under the model version (and blend weights: a version names them) that
-- produced what the learner saw, not under the label the platform's impression event carries.
-- An impression is matched, in this order:
--   1. by id: its `rec_id` is a served item's id ('<response_id>-<rank>') or the served list's
--      `response_id`, for the same course (the platform echoed what the API handed out);
--   2. by recency: else the latest list the API served the same learner with that course, at
--      most `var('served_attribution_hours')` before the impression (the platform showed what
--      it fetched without echoing the id; an older list is not what the learner saw);
--   3. else none: the list came from elsewhere (the platform's own recommender, or a list
--      served before the log reached the warehouse) and keeps its event's model version.
with

impressions as (

    select * from {{ ref('stg_pathwise__rec_impressions') }}

),

-- The platform shows what it fetched from the read API: lists the learner page showed in our own
-- app (served_via 'learner_app') are never what a platform impression is of.
served as (

    select * from {{ ref('stg_pathwise__served_recommendations') }}
    where served_via = 'api'

),

-- The echoed id is a served item's (`rec_id`) or a served list's (`response_id`): never both,
-- as an item id is its list's id with '-<rank>' appended.
by_id as (

    {% for served_id in ['rec_id', 'response_id'] %}
    select
        impressions.event_id,
        served.rec_id as served_rec_id

    from impressions
    inner join served
        on impressions.rec_id = served.{{ served_id }}
        and impressions.course_id = served.course_id
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

unmatched as (

    select impressions.*

    from impressions
    left join by_id
        on impressions.event_id = by_id.event_id
    where by_id.event_id is null

),

by_recency as (

    select
        unmatched.event_id,
        served.rec_id as served_rec_id,
        row_number() over (
            partition by unmatched.event_id
            order by served.served_at desc, served.rec_id desc
        ) as recency_rank

    from unmatched
    inner join served
        on unmatched.learner_key = served.learner_key
        and unmatched.course_id = served.course_id
        and unmatched.shown_at >= served.served_at
        and {{ dbt.dateadd(
            'hour', -var('served_attribution_hours'), 'unmatched.shown_at'
        ) }} < served.served_at

),

attributed as (

    select
        event_id,
        served_rec_id,
        'rec_id' as attribution

    from by_id

    union all

    select
        event_id,
        served_rec_id,
        'latest_served_list' as attribution

    from by_recency
    where recency_rank = 1

),

final as (

    select
        impressions.event_id,
        impressions.learner_key,
        impressions.course_id,
        impressions.rec_id,
        impressions.shown_at,
        impressions.surface,
        coalesce(impressions.model_version, 'unknown') as impression_model_version,
        coalesce(attributed.attribution, 'impression_event') as attribution,
        attributed.served_rec_id,
        served.response_id as served_response_id,
        served.served_at,
        served.snapshot_version as served_snapshot_version,
        case
            when attributed.event_id is null then coalesce(impressions.model_version, 'unknown')
            else coalesce(served.model_version, 'unknown')
        end as model_version

    from impressions
    left join attributed
        on impressions.event_id = attributed.event_id
    left join served
        on attributed.served_rec_id = served.rec_id

)

select * from final
