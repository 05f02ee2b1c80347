-- One row per learner with a profile: their current target role (latest profile, from
-- int_learners_profiled) and its coarse family, the O*NET-SOC major group of the occupation
-- ('Computer and Mathematical', ...). A role that is not a seeded occupation gives the family
-- 'unknown'.
{% set soc_major_groups = {
    '11': 'Management',
    '13': 'Business and Financial Operations',
    '15': 'Computer and Mathematical',
    '17': 'Architecture and Engineering',
    '19': 'Life, Physical, and Social Science',
    '21': 'Community and Social Service',
    '23': 'Legal',
    '25': 'Educational Instruction and Library',
    '27': 'Arts, Design, Entertainment, Sports, and Media',
    '29': 'Healthcare Practitioners and Technical',
    '31': 'Healthcare Support',
    '33': 'Protective Service',
    '35': 'Food Preparation and Serving Related',
    '37': 'Building and Grounds Cleaning and Maintenance',
    '39': 'Personal Care and Service',
    '41': 'Sales and Related',
    '43': 'Office and Administrative Support',
    '45': 'Farming, Fishing, and Forestry',
    '47': 'Construction and Extraction',
    '49': 'Installation, Maintenance, and Repair',
    '51': 'Production',
    '53': 'Transportation and Material Moving',
    '55': 'Military Specific',
} -%}

with

profiles as (

    select * from {{ ref('int_learners_profiled') }}

),

occupations as (

    select * from {{ ref('onet_occupations') }}

),

-- SOC 2018 major groups (the first two digits of an O*NET-SOC code).
major_groups as (

    {% for code, family in soc_major_groups.items() %}
    select
        '{{ code }}' as major_group_code,
        '{{ family }}' as role_family
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

occupation_groups as (

    select
        title,
        onet_soc_code,
        {{ dbt.split_part('onet_soc_code', "'-'", 1) }} as major_group_code

    from occupations

),

final as (

    select
        profiles.learner_key,
        profiles.target_role,
        occupation_groups.onet_soc_code,
        coalesce(major_groups.role_family, 'unknown') as role_family

    from profiles
    left join occupation_groups
        on profiles.target_role = occupation_groups.title
    left join major_groups
        on occupation_groups.major_group_code = major_groups.major_group_code
    where profiles.has_profile

)

select * from final
