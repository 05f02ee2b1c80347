-- Job-market demand per skill from O*NET 29.2 Technology Skills (the `role_skills` seed): how
-- many seeded occupations flag the skill Hot Technology (frequently named in employer job
-- postings) or In Demand. Computed here rather than kept as a seed: the flags are already seeded.
with

role_skills as (

    select * from {{ ref('role_skills') }}

),

skills as (

    select * from {{ ref('skills') }}

),

counted as (

    select
        skill_id,
        count(distinct onet_soc_code) as occupation_count,
        count(distinct case when hot_technology then onet_soc_code end) as hot_technology_count,
        count(distinct case when in_demand then onet_soc_code end) as in_demand_count

    from role_skills
    group by 1

),

final as (

    select
        counted.skill_id,
        skills.skill_name,
        counted.occupation_count,
        counted.hot_technology_count,
        counted.in_demand_count,
        counted.hot_technology_count + counted.in_demand_count as job_demand

    from counted
    inner join skills
        on counted.skill_id = skills.skill_id

)

select * from final
