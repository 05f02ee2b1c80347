-- One row per sender (a Pathwise agent or campaign, or the platform itself), channel and UTC day
-- sent: the nudges that reached learners, and how many were opened and followed (clicked), joined
-- on `nudge_id`. Only opens and clicks of nudges whose send is recorded count. Rows describing
-- fewer than `var('k_anonymity')` distinct learners are left out (k-anonymity). Whether a nudge
-- changed what learners did is measured against a holdout by agents/uplift.py, not here.
with

nudges as (

    select * from {{ ref('stg_pathwise__nudges') }}

),

sends as (

    select
        nudge_id,
        learner_key,
        coalesce(agent, 'platform') as sender,
        campaign_id,
        coalesce(channel, 'unknown') as channel,
        cast(occurred_at as date) as sent_on,
        occurred_at as sent_at,
        -- a re-sent event (at-least-once delivery) counts once
        row_number() over (partition by nudge_id order by occurred_at, event_id) as nth

    from nudges
    where nudge_action = 'sent'

),

first_sends as (

    select * from sends
    where nth = 1

),

responses as (

    select
        nudge_id,
        bool_or(nudge_action = 'opened') as is_opened,
        bool_or(nudge_action = 'clicked') as is_clicked

    from nudges
    where nudge_action in ('opened', 'clicked')
    group by nudge_id

),

joined as (

    select
        first_sends.sender,
        first_sends.campaign_id,
        first_sends.channel,
        first_sends.sent_on,
        first_sends.learner_key,
        -- a click implies the nudge was seen, even where the open was not reported
        coalesce(responses.is_opened or responses.is_clicked, false) as is_opened,
        coalesce(responses.is_clicked, false) as is_clicked

    from first_sends
    left join responses
        on first_sends.nudge_id = responses.nudge_id

),

aggregated as (

    select
        sender,
        campaign_id,
        channel,
        sent_on,
        count(distinct learner_key) as learner_count,
        count(*) as sent_count,
        sum(case when is_opened then 1 else 0 end) as opened_count,
        sum(case when is_clicked then 1 else 0 end) as clicked_count

    from joined
    group by 1, 2, 3, 4

),

k_anonymous as (

    select * from aggregated
    where learner_count >= {{ var('k_anonymity') }}

),

final as (

    select
        cast(sent_on as date) as sent_on,
        cast(sender as {{ dbt.type_string() }}) as sender,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(learner_count as {{ dbt.type_bigint() }}) as learner_count,
        cast(sent_count as {{ dbt.type_bigint() }}) as sent_count,
        cast(opened_count as {{ dbt.type_bigint() }}) as opened_count,
        cast(clicked_count as {{ dbt.type_bigint() }}) as clicked_count,
        cast(opened_count as double) / sent_count as open_rate,
        cast(clicked_count as double) / sent_count as click_rate

    from k_anonymous

)

select * from final
