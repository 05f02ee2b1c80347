"""Where the nightly ML jobs and the offline evaluations write: the warehouse's `ml` schema.

One way to write results so every job looks the same: `replace_table` swaps a whole table in one
transaction (readers never see half a result), `append_table` adds rows to a history table
(created from the first frame's columns), `record_evaluation` appends metric rows to
`ml.evaluations`, the long table every `pathwise evaluate ...` command reports into.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import duckdb
import polars as pl

EVALUATIONS_DDL = """
create schema if not exists warehouse.ml;
create table if not exists warehouse.ml.evaluations (
    evaluation_id varchar not null,   -- one id per evaluation run
    kind          varchar not null,   -- 'recs' | 'dropout' | 'rag'
    dataset       varchar not null,   -- e.g. 'simulator', 'coco', 'oulad'
    model_version varchar not null,
    method        varchar not null,   -- e.g. 'hybrid', 'als', 'popularity', 'rule'
    metric        varchar not null,   -- e.g. 'ndcg', 'roc_auc'
    k             integer,            -- cut-off or checkpoint, when the metric has one
    value         double,
    params        json,               -- what was tuned / how it was run
    evaluated_at  timestamp with time zone not null
);
"""


def replace_table(con: duckdb.DuckDBPyConnection, table: str, df: pl.DataFrame) -> int:
    """Replace `warehouse.ml.<table>` with `df` atomically; returns the row count."""
    return replace_tables(con, {table: df})[table]


def replace_tables(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> dict:
    """Replace each `warehouse.ml.<table>` with its frame, all in one transaction (readers never
    see one table new and its companion old); returns the row counts."""
    con.execute("create schema if not exists warehouse.ml")
    names = {table: f"_ml_result_{i}" for i, table in enumerate(frames)}
    for table, df in frames.items():
        con.register(names[table], df.to_arrow())
    try:
        con.execute("begin")
        for table, name in names.items():
            con.execute(f"create or replace table warehouse.ml.{table} as select * from {name}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        for name in names.values():
            con.unregister(name)
    return {table: df.height for table, df in frames.items()}


def append_table(con: duckdb.DuckDBPyConnection, table: str, df: pl.DataFrame) -> int:
    """Append `df` to `warehouse.ml.<table>` (matching columns by name); returns the row count."""
    con.execute("create schema if not exists warehouse.ml")
    con.register("_ml_rows", df.to_arrow())
    try:
        con.execute(
            f"create table if not exists warehouse.ml.{table} as select * from _ml_rows limit 0"
        )
        con.execute(f"insert into warehouse.ml.{table} by name select * from _ml_rows")
    finally:
        con.unregister("_ml_rows")
    return df.height


def record_evaluation(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str,
    dataset: str,
    model_version: str,
    rows: list[dict],
    params: dict | None = None,
) -> str:
    """Append metric rows ({method, metric, k, value}) for one evaluation run; returns its id."""
    con.execute(EVALUATIONS_DDL)
    evaluation_id = uuid.uuid4().hex[:12]
    now = datetime.now(UTC)
    con.executemany(
        "insert into warehouse.ml.evaluations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                evaluation_id,
                kind,
                dataset,
                model_version,
                r["method"],
                r["metric"],
                r.get("k"),
                None if r["value"] is None else float(r["value"]),
                json.dumps(params or {}, default=str),
                now,
            )
            for r in rows
        ],
    )
    return evaluation_id
