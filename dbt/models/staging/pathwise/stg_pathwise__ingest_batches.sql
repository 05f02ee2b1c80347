with

source as (

    select * from {{ source('pathwise', 'ingest_batches') }}

),

final as (

    select
        batch_id,
        source_file,
        source_format,
        contract_version,

        -- row accounting: received = loaded + duplicates + quarantined + consent_dropped
        received as received_count,
        loaded as loaded_count,
        aggregated as aggregated_count,
        duplicates as duplicate_count,
        quarantined as quarantined_count,
        consent_dropped as consent_dropped_count,

        -- timing
        started_at,
        finished_at,
        -- dbt.datediff renders a long expression on DuckDB
        {{ dbt.datediff('started_at', 'finished_at', 'millisecond') }} / 1000.0  -- noqa: LT05
            as duration_seconds

    from source

)

select * from final
