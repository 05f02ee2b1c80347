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

{#
    at_least_k: no row shows a count under `var('k_anonymity')` (k-anonymity, doc block
    `k_anonymity`). Nulls (withheld figures) pass.

        columns:
          - name: learner_count
            data_tests: [at_least_k]
#}
{% test at_least_k(model, column_name) %}

select * from {{ model }}
where {{ column_name }} < {{ var('k_anonymity') }}

{% endtest %}
