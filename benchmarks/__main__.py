"""Run every benchmark (`make bench`); each module also runs alone with its own --help.

The serving benchmarks (api, apps) read the demo data: run `make demo` first. The first run of
`rag` builds a 100k-chunk index (about 25 minutes on 2 cores; cached under /tmp afterwards).
"""

from benchmarks import (
    agents,
    api,
    apps,
    at_rest,
    briefs,
    cohorts,
    dbt_build,
    erasure,
    ingest,
    metadata,
    ml_models,
    oulad_clickstream,
    path_serving,
    paths,
    rag,
    recs,
)

if __name__ == "__main__":
    ingest.main()
    dbt_build.main()
    recs.main([])
    ml_models.main([])
    agents.main([])
    cohorts.main([])
    oulad_clickstream.main([])
    api.main([])
    at_rest.main([])
    apps.main([])
    erasure.main([])
    paths.main([])
    path_serving.main([])
    briefs.main([])
    metadata.main([])
    rag.main()
