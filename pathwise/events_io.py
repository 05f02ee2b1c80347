"""Writing contract events to files, the way a platform would hand them to Pathwise.

Two formats (docs/events.md):
- NDJSON (optionally gzip-compressed by a `.gz` suffix): one JSON object per line, `properties`
  and `context` nested objects.
- Parquet: one column per envelope field; `properties` and `context` are JSON-encoded strings.

Event frames passed in here have the envelope columns of `pathwise.contract.ENVELOPE`, with
`properties` / `context` as JSON strings (context may be null). Polars writes Parquet (sorting
and writing 5.7M events: 4.8 s, where DuckDB's order-preserving COPY of the same frame took
11 s); DuckDB writes NDJSON, which it builds and compresses in one vectorized pass.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pathwise.contract import ENVELOPE

FORMATS = ("parquet", "ndjson")


def suffix_for(fmt: str) -> str:
    """File suffix for a format: NDJSON is always gzip-compressed when we write it."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    return ".parquet" if fmt == "parquet" else ".ndjson.gz"


def json_lines_sql(name: str) -> str:
    """SQL selecting one `line` (an NDJSON event) per row of table/view `name`."""
    fields = ", ".join(
        f"{c} := {c}::json" if c in ("properties", "context") else f"{c} := {c}" for c in ENVELOPE
    )
    return f"select to_json(struct_pack({fields}))::varchar as line from {name}"


def write_events(frame: pl.DataFrame | pa.Table, path: Path, fmt: str | None = None) -> Path:
    """Write an event frame as Parquet or NDJSON(.gz), chosen by `fmt` or the path's suffix."""
    path = Path(path)
    fmt = fmt or ("parquet" if path.suffix == ".parquet" else "ndjson")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        events = frame if isinstance(frame, pl.DataFrame) else pl.from_arrow(frame)
        # A column of nulls only is typed as text, as it would be with a value in it.
        events.select(ENVELOPE).with_columns(pl.col(pl.Null).cast(pl.String)).write_parquet(
            path, compression="zstd", row_group_size=122_880
        )
        return path
    con = duckdb.connect()
    try:
        con.register("frame", frame)
        con.execute(f"create temp view lines as {json_lines_sql('frame')}")
        _copy_lines(con, "lines", path)
    finally:
        con.close()
    return path


def write_lines(lines: pl.Series | pa.Array | list[str], path: Path) -> Path:
    """Write raw NDJSON lines as they are (used to inject malformed input); gzip if `.gz`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"line": pa.array(lines, type=pa.string())})
    con = duckdb.connect()
    try:
        con.register("lines", table)
        _copy_lines(con, "lines", path)
    finally:
        con.close()
    return path


def _copy_lines(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    # CSV with no quoting and a delimiter that never occurs writes each line byte for byte.
    compression = "gzip" if path.suffix == ".gz" else "none"
    con.execute(
        f"copy (select line from {name}) to $path (format csv, header false, quote '', "
        f"escape '', delimiter '\\x1e', compression {compression})",
        {"path": str(path)},
    )
