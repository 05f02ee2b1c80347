"""`python -m cli ...` is `pathwise ...` (what tests and benchmarks start in a subprocess)."""

from cli import app

app(prog_name="pathwise")
