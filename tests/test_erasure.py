"""Erasure (`pathwise privacy erase`), checked in bytes on a platform that ran the real pipeline
(ingest -> dbt build -> nightly ML -> publish) with one planted learner (tests/_privacy_platform.py).

- the registry covers every table and file that holds the planted learner;
- after erasure, a crash and a resume, no file under PATHWISE_HOME holds the learner's user_id,
  learner_key, e-mail or free text: raw bytes, gunzipped files, every column of every DuckDB
  table (the DuckDB files compress text, so raw bytes alone could miss it) and of every Parquet
  file; the other learners stay;
- an old landing file, re-ingested, does not bring the learner back.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from _privacy_platform import (
    APP_EVENTS,
    EMAIL,
    FORUM_TEXT,
    OTHER_ID,
    SEARCH_TEXT,
    USER_ID,
    copy_of_platform,
    planted_lines,
)
from typer.testing import CliRunner

from cli import app
from pathwise.privacy import pseudonym
from pathwise.rights import erase as erasure
from pathwise.rights.stores import STORES, covering, owner
from pathwise.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def needles() -> dict[str, str]:
    key = get_settings().pseudonym_key.get_secret_value()
    return {
        "user_id": USER_ID,
        "learner_key": pseudonym(USER_ID, key),
        "email": EMAIL,
        "forum_text": FORUM_TEXT,
        "search_text": SEARCH_TEXT,
    }


def _tables(path: Path) -> dict[tuple[str, str, str], set[str]]:
    """(database, schema, table) -> columns, of every base table of a DuckDB file."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select database_name, schema_name, table_name, column_name from duckdb_columns() "
            "where not internal and database_name = current_database()"
        ).fetchall()
    finally:
        con.close()
    tables: dict[tuple[str, str, str], set[str]] = {}
    for db, schema, table, column in rows:
        tables.setdefault((db, schema, table), set()).add(column)
    return tables


def _values_in(con: duckdb.DuckDBPyConnection, relation: str, find: dict[str, str]) -> set[str]:
    """Names of the values that any row of `relation` holds (in any column), in one pass."""
    names = list(find)
    hits = ", ".join(f"bool_or(contains(v, $v{i}))" for i in range(len(names)))
    row = con.execute(
        f"select {hits} from (select t::varchar as v from {relation} as t)",
        {f"v{i}": find[n] for i, n in enumerate(names)},
    ).fetchall()[0]
    return {n for n, hit in zip(names, row, strict=True) if hit}


def duckdb_holdings(path: Path, find: dict[str, str]) -> dict[tuple[str, str, str], set[str]]:
    """Tables of a DuckDB file holding any of the values, with the names of those found."""
    found, tables = {}, _tables(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        for db, schema, table in tables:
            names = _values_in(con, f'"{db}"."{schema}"."{table}"', find)
            if names:
                found[(db, schema, table)] = names
    finally:
        con.close()
    return found


def holdings(home: Path, find: dict[str, str]) -> dict[str, set[str]]:
    """Every place under `home` holding any of the values: file bytes (WAL and journals
    included), gunzipped files, DuckDB tables and Parquet columns."""
    found: dict[str, set[str]] = {}

    def hit(where: str, names: set[str]) -> None:
        if names:
            found.setdefault(where, set()).update(names)

    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        rel = str(path.relative_to(home))
        data = path.read_bytes()
        hit(rel, {n for n, v in find.items() if v.encode() in data})
        if path.name.endswith(".gz"):
            plain = gzip.decompress(data)
            hit(rel, {n for n, v in find.items() if v.encode() in plain})
        elif path.suffix == ".parquet":
            con = duckdb.connect()
            relation = f"read_parquet('{path}')"
            hit(rel, _values_in(con, relation, find))
            con.close()
        elif path.suffix == ".duckdb":
            for table, names in duckdb_holdings(path, find).items():
                hit(f"{rel}:{'.'.join(table)}", names)
    return found


def test_registry_covers_every_store_holding_the_planted_learner(tmp_path_factory, tmp_path):
    with copy_of_platform(tmp_path_factory, tmp_path / "home") as home:
        s, find = get_settings(), needles()
        uncovered_tables = []
        for db_file in (s.warehouse_path, s.vault_path):
            for (db, schema, table), names in duckdb_holdings(db_file, find).items():
                if covering(db, schema, table, _tables(db_file)[(db, schema, table)]) is None:
                    uncovered_tables.append((f"{db}.{schema}.{table}", sorted(names)))
        found = holdings(home, find)
        files = {where.split(":")[0] for where in found}
        uncovered_files = sorted(f for f in files if owner(home / f, s) is None)
    assert not uncovered_tables, (
        f"tables holding the learner that no store covers: {uncovered_tables}"
    )
    assert not uncovered_files, f"files holding the learner that no store owns: {uncovered_files}"
    # The scan sees the learner wherever the pipeline put them (so an empty result above means
    # something): in every store of the registry, and every planted value somewhere.
    owners = {owner(home / f, s).name for f in files}
    assert owners >= {"warehouse", "vault.identities", "landing", "rec_log", "snapshots"}
    assert owners >= {"accounts", "api_keys", "outbox", "learning_paths"}
    assert set().union(*found.values()) == set(find)
    warehouse_tables = {w.split(":")[1] for w in found if w.startswith("warehouse.duckdb:")}
    assert {"warehouse.raw.events", "warehouse.ml.recommendations"} <= warehouse_tables
    assert any(".staging." in t for t in warehouse_tables)
    assert any(".marts." in t for t in warehouse_tables)


def _crash_at(store_name: str) -> tuple:
    """The registry with one store failing, as a crash there would leave things."""

    def crash(ctx):
        raise RuntimeError(f"crash while erasing {store_name}")

    return tuple(
        dataclasses.replace(st, erase=crash) if st.name == store_name else st for st in STORES
    )


def _other_events(con: duckdb.DuckDBPyConnection) -> int:
    key = get_settings().pseudonym_key.get_secret_value()
    return con.execute(
        "select count(*) from warehouse.raw.events where learner_key = $k",
        {"k": pseudonym(OTHER_ID, key)},
    ).fetchall()[0][0]


def test_erasure_leaves_no_byte_behind_resumes_and_keeps_the_others(
    tmp_path_factory, tmp_path, monkeypatch
):
    from pathwise import snapshots
    from pathwise.warehouse import connect

    with copy_of_platform(tmp_path_factory, tmp_path / "home") as home:
        with connect(read_only=True) as con:
            events_before = con.execute("select count(*) from raw.events").fetchall()[0][0]
            theirs = con.execute(
                "select count(*) from raw.events where learner_key = $k",
                {"k": needles()["learner_key"]},
            ).fetchall()[0][0]
            others_before = _other_events(con)
        assert theirs >= 8 and others_before == 2  # fine signals are aggregates; the neighbour's
        # enrolment and their withdrawal of consent to messages
        published_before = snapshots.versions()

        with monkeypatch.context() as mp:  # a crash half-way: the snapshots are not done
            mp.setattr(erasure, "STORES", _crash_at("snapshots"))
            with pytest.raises(RuntimeError, match="crash while erasing snapshots"):
                erasure.erase(USER_ID)
        runner = CliRunner()
        resumed = runner.invoke(app, ["privacy", "erase", USER_ID, "--yes"])
        assert resumed.exit_code == 0, resumed.output
        assert "resumed an interrupted erasure" in resumed.output

        found = holdings(home, needles())
        assert found == {}, f"the erased learner is still in: {found}"

        again = runner.invoke(app, ["privacy", "erase", USER_ID, "--yes"])  # idempotent
        assert again.exit_code == 0, again.output
        assert "resumed" not in again.output
        assert holdings(home, needles()) == {}

        with connect(vault=True, read_only=True) as con:
            assert con.execute("select count(*) from raw.events").fetchall()[0][0] == (
                events_before - theirs
            )
            assert _other_events(con) == others_before
            audits = con.execute(
                "select deleted from vault.erasure_audit order by finished_at"
            ).fetchall()
            assert con.execute("select count(*) from vault.erasure_progress").fetchall() == [(0,)]
        first, second = (json.loads(a[0]) for a in audits)
        assert (
            first["warehouse"] >= theirs
            and first["landing"] == len(planted_lines()) - 1 + APP_EVENTS
        )
        assert first["rec_log"] == 1 and first["accounts"] >= 2 and first["api_keys"] == 1
        assert first["snapshots"] >= 1  # the earlier versions held the learner
        assert set(second.values()) == {0}
        snap = snapshots.require_current()
        assert snap.version == snapshots.versions()[-1]
        assert not set(published_before) & set(snapshots.versions())  # all held the learner
        assert snap.tables["recommendations"] > 0  # the others are still served
        log = (home / "rec_log" / "served-2026-02-06-09.ndjson").read_bytes()
        assert b"r-other" in log


def test_an_erased_learner_does_not_come_back_from_an_old_landing_file(tmp_path_factory, tmp_path):
    from pathwise.ingestion import ingest_file
    from pathwise.warehouse import connect

    with copy_of_platform(tmp_path_factory, tmp_path / "home") as home:
        landing = home / "landing" / "planted" / "events-planted.ndjson"
        old = tmp_path / "old-events.ndjson"
        shutil.copy(landing, old)
        assert erasure.erase(USER_ID).deleted["landing"] == len(planted_lines()) - 1 + APP_EVENTS

        assert ingest_file(old).status == "skipped"  # the very file: loaded before
        resent = tmp_path / "resent-events.ndjson"  # the platform sends it again, reordered
        resent.write_bytes(b"".join(reversed(old.read_bytes().splitlines(keepends=True))))
        batch = ingest_file(resent)
        mine = len(planted_lines()) - 1
        assert batch.erased_dropped == mine
        assert batch.received == mine + 1 and batch.loaded == 0 and batch.duplicates == 1
        with connect(read_only=True) as con:
            row = con.execute(
                "select received, consent_dropped from raw.ingest_batches where batch_id = $b",
                {"b": batch.batch_id},
            ).fetchall()
        assert row == [(mine + 1, mine)]  # received = ... + consent_dropped holds
        s = get_settings()
        for db_file in (s.warehouse_path, s.vault_path):
            assert duckdb_holdings(db_file, needles()) == {}
