{#
    unique_combination_of_columns: no two rows share the same values in all of `combination_of_columns`
    (same name and arguments as dbt_utils' test, which we do not install: dbt runs offline without
    packages here). Nulls count as values.

        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [onet_soc_code, skill_id]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as n_records

    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

),

final as (

    select * from grouped
    where n_records > 1

)

select * from final

{% endtest %}
