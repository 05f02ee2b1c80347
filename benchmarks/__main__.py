"""Run every benchmark: `python -m benchmarks [--events N] [--repeat R]` (see each module)."""

from benchmarks import ingest

if __name__ == "__main__":
    ingest.main()
