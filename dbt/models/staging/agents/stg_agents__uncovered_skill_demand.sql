with

source as (

    select * from {{ source('agents', 'uncovered_skill_demand') }}

),

final as (

    select
        cast(skill_name as {{ dbt.type_string() }}) as skill_name,
        cast(learner_count as {{ dbt.type_bigint() }}) as path_learner_count,
        cast(computed_at as {{ dbt.type_timestamp() }}) as computed_at

    from source

)

select * from final
