{#
    The predicate of the incremental event models: on an incremental run, only events of
    batches loaded after the newest batch already in the model. Events are append-only and the
    warehouse has one writer at a time, so `loaded_at` only grows; the watermark is a constant,
    which lets the engine skip every block of older events by its min/max statistics instead of
    reading them. A full refresh (or a first run) gets `1 = 1`: everything.

        where event_type = 'enroll' and {{ new_batches_only() }}
#}

{% macro new_batches_only(column='loaded_at') -%}
    {%- set newest = none -%}
    {%- if is_incremental() and execute -%}
        {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ this).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if newest is none -%}
    1 = 1
    {%- else -%}
    {{ column }} > cast('{{ newest }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}
