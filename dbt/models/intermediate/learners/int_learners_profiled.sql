-- One row per learner who stated a profile or changed a consent: their current profile (latest
-- `profile_updated`), whether their latest fine-tier consent event is a grant, whether their
-- latest personalization consent event is a withdrawal (an objection to profiling: personalization
-- is on until the learner objects), and whether they withdrew consent to messages (granted unless
-- withdrawn: agents contact no one who opted out).
with

profiles as (

    select * from {{ ref('stg_pathwise__profiles') }}

),

consents as (

    select * from {{ ref('stg_pathwise__consents') }}

),

latest_profiles as (

    select
        *,
        row_number() over (
            partition by learner_key
            order by updated_at desc, event_id desc
        ) as recency_rank

    from profiles

),

latest_consents as (

    -- per learner and consent tier (`fine`, `messages`, ...): its newest change first
    select
        *,
        row_number() over (
            partition by learner_key, consent_tier
            order by changed_at desc, event_id desc
        ) as recency_rank

    from consents

),

current_profiles as (

    select * from latest_profiles
    where recency_rank = 1

),

current_fine_consents as (

    select * from latest_consents
    where recency_rank = 1 and consent_tier = 'fine'

),

current_personalization_consents as (

    select * from latest_consents
    where recency_rank = 1 and consent_tier = 'personalization'

),

current_message_consents as (

    select * from latest_consents
    where recency_rank = 1 and consent_tier = 'messages'

),

learners as (

    select learner_key from current_profiles
    union
    select learner_key from consents

),

final as (

    select
        learners.learner_key,
        current_profiles.learner_key is not null as has_profile,
        current_profiles.target_role,
        current_profiles.current_skills,
        current_profiles.weekly_minutes,
        current_profiles.preferred_format,
        coalesce(current_fine_consents.is_granted, false) as has_fine_consent,
        coalesce(not current_personalization_consents.is_granted, false)
            as personalization_opted_out,
        coalesce(current_message_consents.is_granted, true) as has_message_consent

    from learners
    left join current_profiles
        on learners.learner_key = current_profiles.learner_key
    left join current_fine_consents
        on learners.learner_key = current_fine_consents.learner_key
    left join current_personalization_consents
        on learners.learner_key = current_personalization_consents.learner_key
    left join current_message_consents
        on learners.learner_key = current_message_consents.learner_key

)

select * from final
