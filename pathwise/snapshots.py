"""Published serving snapshots: immutable, versioned Parquet copies of what the apps and the API read.

The nightly flow writes the warehouse; the apps and the read API never open it (a DuckDB file has one
writer and no readers beside it). After each run `publish()` copies the marts and ML results into a
new folder, then switches `CURRENT` to it with one atomic rename. Readers keep whatever version they
opened; new readers see the new one. The last `PATHWISE_SNAPSHOTS_KEEP` versions stay on disk for
`rollback()`.

    $PATHWISE_HOME/snapshots/
        CURRENT                       the published version's name (replaced atomically)
        v20261125T173000Z/            one folder per version, never changed after publishing
            manifest.json             version, time, tables and their row counts, model versions
            recommendations.parquet   ...one file per table

With PATHWISE_WAREHOUSE_KEY set, every table file is encrypted (Parquet modular encryption,
AES-GCM, footer and columns, with the snapshot store's key derived from it: pathwise/at_rest.py);
the manifest says so and holds no learner data. Reading costs the same (measured in
docs/privacy.md). Folders are 0700, files 0600.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import duckdb

from pathwise.at_rest import AtRestError, private_dir, store_key, write_private
from pathwise.settings import get_settings
from pathwise.validation import sql_literal

# What a snapshot holds: every mart (the catalog's included) and every ML result (their schemas).
# Training features (`marts.ml_*`) are the nightly job's input, not something anyone serves.
SNAPSHOT_SCHEMAS = ("marts", "ml")
# And of the agents' tables, what the Control Tower shows: measured uplift (aggregates, no learner).
SNAPSHOT_AGENT_TABLES = ("uplift",)
# The name under which a connection holds the snapshot key (DuckDB's `add_parquet_key`).
PARQUET_KEY = "pathwise_snapshots"


class SnapshotError(RuntimeError):
    """No snapshot to serve, or one that cannot be published; the message says what to run."""


@dataclass(frozen=True)
class Snapshot:
    version: str
    path: Path

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text())

    @property
    def tables(self) -> dict[str, int]:
        """Table name -> row count."""
        return self.manifest["tables"]

    def table_path(self, name: str) -> Path:
        if name not in self.tables:
            raise SnapshotError(f"snapshot {self.version} has no table {name!r}")
        return self.path / f"{name}.parquet"

    @property
    def encrypted(self) -> bool:
        return bool(self.manifest.get("encrypted"))

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per table of this snapshot."""
        con = duckdb.connect(":memory:")
        options = ""
        if self.encrypted:
            if not add_snapshot_key(con):
                con.close()
                raise AtRestError(
                    f"snapshot {self.version} is encrypted: set PATHWISE_WAREHOUSE_KEY to the key "
                    "it was published with"
                )
            options = f", encryption_config = {{footer_key: '{PARQUET_KEY}'}}"
        for name in self.tables:
            # A view takes no bound parameters: the path goes in as an escaped literal.
            source = sql_literal(str(self.path / f"{name}.parquet"))
            con.execute(f"create view {name} as select * from read_parquet({source}{options})")
        return con


def add_snapshot_key(con: duckdb.DuckDBPyConnection) -> bool:
    """Give `con` the snapshot key under PARQUET_KEY; False when no key is set."""
    key = store_key("snapshots")
    if key is None:
        return False
    # A PRAGMA takes no bound parameters; base64 text cannot break out of the literal.
    con.execute(f"pragma add_parquet_key('{PARQUET_KEY}', '{base64.b64encode(key).decode()}')")
    return True


def _root() -> Path:
    return get_settings().snapshots_dir


def versions() -> list[str]:
    """Published versions on disk, oldest first (names sort by time)."""
    root = _root()
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").exists())


def current() -> Snapshot | None:
    """The published snapshot, or None before the first publish."""
    pointer = _root() / "CURRENT"
    try:
        version = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    return Snapshot(version, _root() / version)


def require_current() -> Snapshot:
    snap = current()
    if snap is None:
        raise SnapshotError(
            "No serving snapshot published yet: run `pathwise nightly` (or `make demo`)."
        )
    return snap


def _switch(version: str) -> None:
    """Point CURRENT at `version` atomically (write a temp file, then rename over)."""
    root = _root()
    write_private(root / "CURRENT", (version + "\n").encode())


def _snapshot_relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'warehouse' and (table_schema in ? "
        "or (table_schema = 'agents' and table_name in ?)) order by 1, 2",
        [list(SNAPSHOT_SCHEMAS), list(SNAPSHOT_AGENT_TABLES)],
    ).fetchall()
    relations = {
        name: f"warehouse.{schema}.{name}"
        for schema, name in rows
        if not (schema == "marts" and name.startswith("ml_"))
    }
    if not any(schema == "marts" for schema, _ in rows):
        raise SnapshotError("The warehouse has no marts: run `pathwise build` before publishing.")
    return relations


def publish(con: duckdb.DuckDBPyConnection, *, keep: int | None = None) -> Snapshot:
    """Copy the marts and ML results from the warehouse into a new version and switch to it."""
    keep = keep or get_settings().snapshots_keep
    root = private_dir(_root())
    created = datetime.now(UTC)
    version = "v" + created.strftime("%Y%m%dT%H%M%S%fZ")
    staging = root / f".building-{version}"
    staging.mkdir(mode=0o700)
    encrypted = add_snapshot_key(con)
    options = f", encryption_config {{footer_key: '{PARQUET_KEY}'}}" if encrypted else ""
    try:
        tables = {}
        for name, relation in _snapshot_relations(con).items():
            # COPY answers with the number of rows it wrote: no second pass to count them.
            path = staging / f"{name}.parquet"
            tables[name] = con.execute(
                f"copy (select * from {relation}) to $path "
                f"(format parquet, compression zstd{options})",
                {"path": str(path)},
            ).fetchall()[0][0]
            os.chmod(path, 0o600)  # DuckDB creates it with the process's umask
        model_versions = {}
        for name in ("recommendations", "dropout_risk", "learning_styles"):
            if tables.get(name):
                model_versions[name] = con.execute(
                    f"select any_value(model_version) from warehouse.ml.{name}"
                ).fetchall()[0][0]
        manifest = {
            "version": version,
            "created_at": created.isoformat(),
            "tables": tables,
            "model_versions": model_versions,
            "encrypted": encrypted,
        }
        write_private(staging / "manifest.json", json.dumps(manifest, indent=2).encode())
        os.replace(staging, root / version)  # the folder appears whole, or not at all
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _switch(version)
    _prune(keep)
    return Snapshot(version, root / version)


def rollback() -> Snapshot:
    """Serve the version published before the current one again."""
    snap = require_current()
    older = [v for v in versions() if v < snap.version]
    if not older:
        raise SnapshotError(
            f"{snap.version} is the oldest snapshot on disk; nothing to roll back to."
        )
    _switch(older[-1])
    return Snapshot(older[-1], _root() / older[-1])


def _prune(keep: int) -> None:
    """Delete all but the newest `keep` versions (never the one being served)."""
    serving = current()
    for version in versions()[:-keep]:
        if serving is None or version != serving.version:
            shutil.rmtree(_root() / version, ignore_errors=True)
