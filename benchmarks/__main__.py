"""Run every benchmark (`make bench`); each module also runs alone with its own --help."""

from benchmarks import dbt_build, ingest

if __name__ == "__main__":
    ingest.main()
    dbt_build.main()
