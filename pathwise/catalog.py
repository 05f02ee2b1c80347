"""Loading the platform's catalog files (docs/catalog.md) into `raw.catalog_*`.

A catalog folder holds up to four CSV files. Each load replaces, course by course, what the
warehouse held for the courses in the file, so a platform can send its whole catalog or only the
courses that changed. A file with a broken row is refused whole, with the rows that are wrong:
a catalog is small and hand-maintained, and a half-loaded one would mislead every mart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pathwise.contract import FORMATS, SCHEMA_VERSION
from pathwise.ingestion import file_sha256


@dataclass(frozen=True)
class CatalogFile:
    table: str
    columns: dict[str, str]  # name -> DuckDB type
    key: tuple[str, ...]
    required: tuple[str, ...]
    # Columns added to the format later: a file may leave them out (older platforms' exports).
    optional: tuple[str, ...] = ()


CATALOG_FILES = {
    "courses.csv": CatalogFile(
        "catalog_courses",
        {
            "course_id": "VARCHAR",
            "title": "VARCHAR",
            "description": "VARCHAR",
            "category": "VARCHAR",
            "difficulty": "INTEGER",
            "instructor_id": "VARCHAR",
            "language": "VARCHAR",
            "primary_format": "VARCHAR",
        },
        ("course_id",),
        ("course_id", "title"),
    ),
    "modules.csv": CatalogFile(
        "catalog_modules",
        {
            "course_id": "VARCHAR",
            "module_id": "VARCHAR",
            "position": "INTEGER",
            "title": "VARCHAR",
            "duration_minutes": "DOUBLE",
            "format": "VARCHAR",
            "due_day": "DOUBLE",
        },
        ("course_id", "module_id"),
        ("course_id", "module_id", "position"),
        optional=("due_day",),
    ),
    "course_skills.csv": CatalogFile(
        "catalog_course_skills",
        {"course_id": "VARCHAR", "skill": "VARCHAR"},
        ("course_id", "skill"),
        ("course_id", "skill"),
    ),
    "course_prerequisites.csv": CatalogFile(
        "catalog_course_prerequisites",
        {"course_id": "VARCHAR", "prerequisite_course_id": "VARCHAR"},
        ("course_id", "prerequisite_course_id"),
        ("course_id", "prerequisite_course_id"),
    ),
}
# Load order: courses first, so the others can be checked against them.
LOAD_ORDER = tuple(CATALOG_FILES)


class CatalogError(ValueError):
    """A catalog file that cannot be loaded; the message lists what to fix."""


def _problems(con: duckdb.DuckDBPyConnection, spec: CatalogFile, name: str) -> list[str]:
    checks = [
        f"select 'line ' || (line_no + 1) || ': {c} is empty' from staged where {c} is null"
        for c in spec.required
    ]
    key = ", ".join(spec.key)
    checks.append(
        f"select 'duplicate key ({key}) = (' || concat_ws(', ', {key}) || ')' "
        f"from staged group by {key} having count(*) > 1"
    )
    if name != "courses.csv":
        checks.append(
            "select 'line ' || (line_no + 1) || ': unknown course_id ' || course_id from staged "
            "where course_id not in (select course_id from warehouse.raw.catalog_courses)"
        )
    if name == "courses.csv":
        checks.append(
            "select 'line ' || (line_no + 1) || ': difficulty must be 1, 2 or 3' from staged "
            "where difficulty not in (1, 2, 3)"
        )
    if name == "modules.csv":
        checks.append(
            "select 'line ' || (line_no + 1) || ': due_day must be 0 or more' from staged "
            "where due_day < 0"
        )
    fmt_col = {"courses.csv": "primary_format", "modules.csv": "format"}.get(name)
    if fmt_col:
        allowed = ", ".join(f"'{f}'" for f in FORMATS)
        names = "/".join(FORMATS)
        checks.append(
            f"select 'line ' || (line_no + 1) || ': {fmt_col} must be one of {names}' "
            f"from staged where {fmt_col} not in ({allowed})"
        )
    query = " union all ".join(f"({c})" for c in checks) + " limit 20"
    return [r[0] for r in con.execute(query).fetchall()]


def load_catalog_file(con: duckdb.DuckDBPyConnection, path: Path) -> dict:
    """Validate and load one catalog CSV; returns a summary. Raises CatalogError if it is wrong."""
    spec = CATALOG_FILES.get(path.name)
    if spec is None:
        raise CatalogError(f"{path}: unknown catalog file; expected one of {', '.join(LOAD_ORDER)}")
    batch_id = file_sha256(path)
    seen = con.execute(
        "select count(*) from warehouse.raw.ingest_batches where batch_id = $b", {"b": batch_id}
    ).fetchall()[0][0]
    if seen:
        return {"source_file": str(path), "status": "skipped", "rows": 0}
    source = {"path": str(path)}
    described = con.execute(
        "describe select * from read_csv($path, header = true, all_varchar = true)", source
    ).fetchall()
    header = [row[0] for row in described]
    missing = [c for c in spec.columns if c not in header and c not in spec.optional]
    if missing:
        raise CatalogError(f"{path}: missing column(s) {', '.join(missing)}")
    unknown = [c for c in header if c not in spec.columns]
    if unknown:
        raise CatalogError(
            f"{path}: unknown column(s) {', '.join(unknown)}; {path.name} has "
            f"{', '.join(spec.columns)} (docs/catalog.md)"
        )
    cols = ", ".join(f"'{c}': '{spec.columns[c]}'" for c in header)
    values = ", ".join(c if c in header else f"null::{t} as {c}" for c, t in spec.columns.items())
    try:
        con.execute(
            f"create or replace temp table staged as "
            f"select row_number() over () as line_no, {values} "
            f"from read_csv($path, header = true, columns = {{{cols}}}, auto_detect = false)",
            source,
        )
    except duckdb.Error as e:
        raise CatalogError(f"{path}: cannot be read as {path.name}: {e}") from e
    problems = _problems(con, spec, path.name)
    if problems:
        raise CatalogError(f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    rows = con.execute("select count(*) from staged").fetchall()[0][0]
    now = datetime.now(UTC).replace(tzinfo=None)
    con.begin()
    try:
        con.execute(
            f"delete from warehouse.raw.{spec.table} "
            "where course_id in (select course_id from staged)"
        )
        con.execute(
            f"insert into warehouse.raw.{spec.table} by name "
            f"select {', '.join(spec.columns)}, $now as loaded_at from staged",
            {"now": now},
        )
        con.execute(
            "insert into warehouse.raw.ingest_batches values "
            "($b, $src, 'catalog', $n, $n, 0, 0, 0, 0, $now, $now, $v, 0)",
            {"b": batch_id, "src": str(path), "n": rows, "now": now, "v": SCHEMA_VERSION},
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return {"source_file": str(path), "status": "loaded", "rows": rows}


def write_catalog(out: Path, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Write `out/catalog/<name>.csv` for each catalog file (header even when empty).

    `tables` maps a file's stem (`courses`, `modules`, ...) to a frame with at least its columns
    (optional ones may be missing: written empty); callers pass frames already sorted, so the
    files are the same on every run.
    """
    counts = {}
    for name, spec in CATALOG_FILES.items():
        stem = name.removesuffix(".csv")
        columns = list(spec.columns)
        frame = tables.get(stem, pl.DataFrame(schema=dict.fromkeys(columns, pl.String)))
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias(c) for c in spec.optional if c not in frame.columns
        )
        path = Path(out) / "catalog" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.select(columns).write_csv(path)
        counts[stem] = frame.height
    return counts
