{#
    Typed access to one top-level key of a JSON object column (the events' `properties`).

    Dispatched so another engine can bring its own implementation (`<adapter>__json_str`, ...);
    the defaults use SQL:2016 `json_value`, which most engines understand. `key` is a plain
    property name from pathwise/contract.py, never user input.

        {{ json_str('properties', 'rec_id') }}          -> varchar
        {{ json_int('properties', 'position') }}        -> integer
        {{ json_num('properties', 'score') }}           -> double
        {{ json_bool('properties', 'granted') }}        -> boolean
        {{ json_str_list('properties', 'current_skills') }} -> list/array of varchar

    A missing key and a JSON null both give SQL null.
#}

{% macro json_str(column, key) -%}
    {{ return(adapter.dispatch('json_str', 'pathwise')(column, key)) }}
{%- endmacro %}

{% macro default__json_str(column, key) -%}
    json_value({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_str(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}


{% macro json_int(column, key) -%}
    {{ return(adapter.dispatch('json_int', 'pathwise')(column, key)) }}
{%- endmacro %}

{% macro default__json_int(column, key) -%}
    cast({{ pathwise.json_str(column, key) }} as {{ dbt.type_int() }})
{%- endmacro %}


{% macro json_num(column, key) -%}
    {{ return(adapter.dispatch('json_num', 'pathwise')(column, key)) }}
{%- endmacro %}

{% macro default__json_num(column, key) -%}
    cast({{ pathwise.json_str(column, key) }} as {{ dbt.type_float() }})
{%- endmacro %}

{# dbt.type_float() is a 4-byte FLOAT on DuckDB: keep seconds and scores in double precision. #}
{% macro duckdb__json_num(column, key) -%}
    cast({{ pathwise.json_str(column, key) }} as double)
{%- endmacro %}


{% macro json_bool(column, key) -%}
    {{ return(adapter.dispatch('json_bool', 'pathwise')(column, key)) }}
{%- endmacro %}

{% macro default__json_bool(column, key) -%}
    cast({{ pathwise.json_str(column, key) }} as {{ dbt.type_boolean() }})
{%- endmacro %}


{% macro json_str_list(column, key) -%}
    {{ return(adapter.dispatch('json_str_list', 'pathwise')(column, key)) }}
{%- endmacro %}

{% macro default__json_str_list(column, key) -%}
    {{ exceptions.raise_compiler_error(
        "pathwise.json_str_list has no implementation for adapter '" ~ adapter.type()
        ~ "': add a " ~ adapter.type() ~ "__json_str_list macro."
    ) }}
{%- endmacro %}

{% macro duckdb__json_str_list(column, key) -%}
    cast(json_extract({{ column }}, '$.{{ key }}') as varchar[])
{%- endmacro %}
