-- One row per learner who objects to profiling (GDPR Art. 21, CCPA "do not share"): the nightly
-- models' input marts leave them out.
with

learner_profiles as (

    select * from {{ ref('int_learners_profiled') }}

),

final as (

    select learner_key

    from learner_profiles
    where personalization_opted_out

)

select * from final
