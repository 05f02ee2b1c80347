"""Ingestion end to end on simulator output with injected faults: the acceptance checks.

- every batch reconciles, and every injected fault ends where it should;
- re-ingesting changes nothing;
- a SIGKILL mid-batch followed by a re-run gives exactly the tables of an uninterrupted run;
- no raw user_id, e-mail address or IP address reaches any table of the warehouse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pathwise.privacy import EMAIL_RE, IPV4_RE
from pathwise.settings import PROJECT_ROOT, Settings
from pathwise.sources.simulator import simulate
from pathwise.warehouse import connect

# Columns holding wall-clock times of the load itself: they differ between any two runs.
WALL_CLOCK = {"loaded_at", "started_at", "finished_at", "quarantined_at", "first_seen"}
# Injected fault kind -> where the event must end up.
EXPECTED = {
    "malformed_json": "malformed_json",
    "missing_field": "missing_field",
    "wrong_type": "wrong_type",
    "unknown_event_type": "unknown_event_type",
    "future_timestamp": "future_timestamp",
    "oversized": "oversized",
    "duplicate_conflict": "duplicate_conflict",
    "missing_property": "missing_property",
    "duplicate_exact": "duplicate",
    "pii_text": "loaded",
}


@pytest.fixture(scope="module", params=["parquet", "ndjson"])
def platform(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(f"sim-{request.param}")
    simulate(
        learners=300,
        courses=24,
        days=6,
        seed=5,
        out=out,
        fmt=request.param,
        start="2026-02-02",
        bad_share=0.02,
    )
    return out


def event_files(platform: Path) -> list[Path]:
    return sorted(p for p in (platform / "events").iterdir() if p.is_file())


def dump(settings: Settings) -> dict[str, list[tuple]]:
    """Every warehouse and vault table, sorted, without wall-clock columns."""
    tables = {}
    with connect(vault=True, read_only=True, settings=settings) as con:
        rows = con.execute(
            "select table_catalog, table_schema, table_name from information_schema.tables "
            "where table_catalog in ('warehouse', 'vault') and table_type = 'BASE TABLE'"
        ).fetchall()
        for db, schema, table in rows:
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_catalog = ? "
                    "and table_schema = ? and table_name = ? order by ordinal_position",
                    [db, schema, table],
                ).fetchall()
                if c not in WALL_CLOCK
            ]
            sel = ", ".join(f'"{c}"' for c in cols)
            tables[f"{db}.{schema}.{table}"] = con.execute(
                f'select {sel} from {db}."{schema}"."{table}" order by all'
            ).fetchall()
    return tables


def test_flow_reconciles_and_places_every_fault(platform, pathwise_home, prefect_harness):
    from flows.ingest import ingest_flow

    result = ingest_flow(paths=[str(platform)])
    assert result["reconciled"]
    assert len(result["batches"]) == len(event_files(platform))
    with connect(read_only=True) as con:
        batches = con.execute(
            "select received, loaded, duplicates, quarantined, consent_dropped "
            "from raw.ingest_batches where source_format <> 'catalog'"
        ).fetchall()
        quarantined = {
            (Path(f).name, line): reason
            for f, line, reason in con.execute(
                "select source_file, line_no, reason from raw.quarantined_events"
            ).fetchall()
        }
        stored = {r[0] for r in con.execute("select event_id from raw.events").fetchall()}
        counts = con.execute("select count(*) from raw.events").fetchall()[0][0]
    assert all(r == lo + d + q + c for r, lo, d, q, c in batches)
    assert sum(b[0] for b in batches) == result["totals"]["received"] > 5_000

    faults = (
        duckdb.connect()
        .sql(f"select file, line_no, kind, event_id from '{platform}/truth/faults.parquet'")
        .fetchall()
    )
    assert {k for _, _, k, _ in faults} == set(EXPECTED), "the simulator injects every kind"
    for file, line, kind, event_id in faults:
        where = (Path(file).name, line)
        want = EXPECTED[kind]
        if want == "loaded":
            assert event_id in stored and where not in quarantined, (kind, where)
        elif want == "duplicate":
            assert where not in quarantined, (kind, where)
        else:
            assert quarantined.get(where) == want, (kind, where)
    # Nothing quarantined that was not injected, and duplicates match the injected ones.
    assert len(quarantined) == sum(
        EXPECTED[k] not in ("loaded", "duplicate") for *_, k, _ in faults
    )
    assert result["totals"]["duplicates"] == sum(k == "duplicate_exact" for *_, k, _ in faults)
    assert counts == len(stored), "event ids are unique in the warehouse"

    # Re-ingesting the same files changes nothing at all.
    before = dump(pathwise_home)
    again = ingest_flow(paths=[str(platform)])
    assert {b["status"] for b in again["batches"]} == {"skipped"}
    assert dump(pathwise_home) == before


def test_no_personal_data_in_any_table(platform, pathwise_home):
    from pathwise.ingestion import ingest_file

    for f in event_files(platform):
        ingest_file(f)
    user_ids = {
        u
        for (u,) in duckdb.connect()
        .sql(f"select user_id from '{platform}/truth/learners.parquet'")
        .fetchall()
    }
    assert len(user_ids) == 300
    leaks = []
    with connect(vault=False, read_only=True) as con:
        con.execute("create temp table uids (u varchar)")
        con.executemany("insert into uids values (?)", [(u,) for u in user_ids])
        text_cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = 'warehouse' and data_type in ('VARCHAR', 'JSON')"
        ).fetchall()
        assert len(text_cols) > 20
        for schema, table, col in text_cols:
            ref = f'warehouse."{schema}"."{table}"."{col}"'
            n = con.execute(
                f'select count(*) from warehouse."{schema}"."{table}" '
                f"where regexp_matches({ref}, '{EMAIL_RE}') or regexp_matches({ref}, '{IPV4_RE}') "
                f"or regexp_matches({ref}, 'usr_[0-9a-f]{{10}}') "
                f"or {ref} in (select u from uids)"
            ).fetchall()[0][0]
            if n:
                leaks.append((schema, table, col, n))
    assert leaks == []
    # The e-mails were really in the input: the scan above is not vacuous.
    files = [str(f) for f in event_files(platform)]
    src = (
        f"select context as t from read_parquet({files})"
        if files[0].endswith(".parquet")
        else f"select line as t from read_csv({files}, columns = {{'line': 'VARCHAR'}}, "
        "header = false, delim = '\\x1e', quote = '', escape = '')"
    )
    emails = duckdb.connect().sql(
        f"select count(*) from ({src}) where regexp_matches(t, '{EMAIL_RE}')"
    )
    assert emails.fetchall()[0][0] > 100


INGEST_ALL = (
    "import sys; from pathlib import Path; from pathwise.ingestion import ingest_file\n"
    "for f in sorted(Path(sys.argv[1]).iterdir()): ingest_file(f); print(f.name, flush=True)\n"
)


def run_ingest(home: Path, platform: Path, kill: tuple[int, float] | None = None) -> int:
    """Ingest every event file in a subprocess; with `kill=(n, s)`, SIGKILL it `s` seconds after
    its n-th file is loaded (so the kill lands while later batches are still to load, whatever
    the machine's speed)."""
    env = {**os.environ, "PATHWISE_HOME": str(home), "PATHWISE_WAREHOUSE_KEY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST_ALL, str(platform / "events")],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    if kill is None:
        proc.stdout.read()
        return proc.wait(timeout=600)
    for _ in range(kill[0]):
        proc.stdout.readline()
    time.sleep(kill[1])
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=60)


def test_sigkill_mid_batch_then_rerun_equals_uninterrupted(platform, tmp_path):
    reference = tmp_path / "reference"
    t0 = time.perf_counter()
    assert run_ingest(reference, platform) == 0
    files = len(event_files(platform))
    per_file = (time.perf_counter() - t0) / files
    expected = dump(Settings(home=reference))
    killed_midway = 0
    # After the first, a middle and the second-to-last file, part-way into the next batch.
    for i, after in enumerate((1, files // 2, files - 1)):
        home = tmp_path / f"killed-{i}"
        code = run_ingest(home, platform, kill=(after, per_file * 0.4))
        if code == -signal.SIGKILL and (home / "warehouse.duckdb").exists():
            with connect(read_only=True, settings=Settings(home=home)) as con:
                done = con.execute(
                    "select count(*) from raw.ingest_batches where source_format <> 'catalog'"
                ).fetchall()[0][0]
            killed_midway += done < files
        assert run_ingest(home, platform) == 0
        assert dump(Settings(home=home)) == expected, f"kill after file {after} of {files}"
    assert killed_midway >= 2, "the kills should land while batches were still to load"
