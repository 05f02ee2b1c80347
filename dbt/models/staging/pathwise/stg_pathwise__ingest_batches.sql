with

source as (

    select * from {{ source('raw', 'ingest_batches') }}

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
        {{ dbt.datediff('started_at', 'finished_at', 'millisecond') }} / 1000.0 as duration_seconds

    from source

)

select * from final
