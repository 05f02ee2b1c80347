{#
    Schemas are exactly the layer names (`staging`, `intermediate`, `marts`, `reference`), not
    dbt's default `<target schema>_<custom schema>`: one warehouse file per environment already
    separates dev from prod, and readers (apps, ML, RAG) query stable names like `marts.learners`.
    Models without a custom schema fall back to the target's schema (`main`).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
