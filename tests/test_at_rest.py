"""Encryption at rest and private modes, end to end with the real components.

One small platform is built with both keys set and the process umask the composition roots set:
simulate, the real nightly flow (ingest, dbt, models, publish), accounts, a control, an API key,
real API calls (the recommendation log) and the log's load into the warehouse. Then every file under
PATHWISE_HOME but the landing folder (the platform's drop zone: docs/privacy.md) is searched for
learner keys, course titles and user names (none may be found), every store is shown not to open
without its key, and the API, the app's reads and the sign-in still work.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from pathwise import at_rest, snapshots
from pathwise.accounts import UserStore
from pathwise.api_keys import KeyStore
from pathwise.controls import ControlStore
from pathwise.served_log import load_closed_files
from pathwise.settings import get_settings
from pathwise.warehouse import connect

WAREHOUSE_KEY = "warehouse-secret-for-tests-0123456789"
VAULT_KEY = "vault-secret-for-tests-9876543210abcdef"
PASSWORD = "a-long-test-password"
USERNAME = "ottoline.vexbridge"  # a name that appears nowhere else


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, prefect_harness) -> Iterator[dict]:
    """The platform's home, and what was written into it (to search for)."""
    from apps.api import create_app
    from flows.nightly import nightly_flow
    from pathwise.sources.simulator import simulate

    home = tmp_path_factory.mktemp("at-rest") / "home"
    old_umask = os.umask(0o022)  # a usual shell's: the composition root must fix it
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", WAREHOUSE_KEY)
        mp.setenv("PATHWISE_VAULT_KEY", VAULT_KEY)
        get_settings.cache_clear()
        try:
            at_rest.private_process()  # what `pathwise` and the app do first
            simulate(
                learners=80, courses=12, days=4, seed=5, out=home / "landing" / "sim",
                fmt="parquet", start="2026-02-02", bad_share=0.0,
            )  # fmt: skip
            nightly_flow(skip=["index", "styles", "dropout", "drift"])  # not stores of their own
            snap = snapshots.require_current()
            con = snap.connect()
            learner, title = con.execute(
                "select r.learner_key, c.course_title from recommendations r "
                "join courses c using (course_id) order by 1, r.rank limit 1"
            ).fetchall()[0]
            course_id = con.execute(
                "select course_id from courses where course_title = ?", [title]
            ).fetchall()[0][0]
            con.close()
            UserStore().add(USERNAME, PASSWORD, "learner", learner_key=learner)
            ControlStore().boost(course_id, amount=0.2, reason=f"promote {title}", actor=USERNAME)
            _, token = KeyStore().create(USERNAME, "learner", learner_key=learner)
            with TestClient(create_app(watch=False)) as client:
                answer = client.get(
                    f"/v1/learners/{learner}/recommendations",
                    params={"id_kind": "learner_key"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            with connect() as con:  # the nightly load, an hour later
                loaded = load_closed_files(con, datetime.now(UTC) + timedelta(hours=1))
            yield {
                "home": home,
                "learner": learner,
                "title": title,
                "course_id": course_id,
                "token": token,
                "answer": answer,
                "loaded": loaded,
            }
        finally:
            os.umask(old_umask)
            get_settings.cache_clear()


def secrets_in(sealed: dict) -> dict[str, bytes]:
    return {
        "learner_key": sealed["learner"].encode(),
        "course title": sealed["title"].encode(),
        "user name": USERNAME.encode(),
    }


def test_no_learner_data_in_plain_bytes_under_home(sealed):
    home = sealed["home"]
    landing = home / "landing"
    stores = {
        "snapshot": list((home / "snapshots").rglob("*.parquet")),
        "rec_log": list((home / "rec_log").glob("*.ndjson")),
        "users": [home / "users.sqlite"],
        "controls": [home / "controls.sqlite"],
        "api_keys": [home / "api_keys.json"],
    }
    assert all(stores.values()), stores  # each store exists, so the search below means something
    hits = []
    for path in home.rglob("*"):
        if path.is_file() and landing not in path.parents:
            data = path.read_bytes()
            hits += [
                f"{path.relative_to(home)}: {n}" for n, s in secrets_in(sealed).items() if s in data
            ]
    assert hits == []
    # The search finds them where they are plain: the platform's own landing files hold titles.
    catalog = b"".join(p.read_bytes() for p in landing.rglob("*") if p.is_file())
    assert sealed["title"].encode() in catalog


def test_the_api_and_the_log_work_encrypted(sealed):
    answer = sealed["answer"]
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert items and any(i["course_id"] == sealed["course_id"] for i in items)
    assert sealed["loaded"]["responses"] == 1 and sealed["loaded"]["items"] == len(items)
    log = next((sealed["home"] / "rec_log").glob("*.ndjson")).read_bytes()
    assert log.startswith(at_rest.SEALED)


def test_the_app_reads_the_snapshot_and_signs_in(sealed, monkeypatch):
    from apps.queries import snapshot as app_snapshot

    _with_keys(monkeypatch, sealed["home"])
    snap = app_snapshot.snapshot()
    assert snap is not None and snap.encrypted
    # What the pages do: a cursor per query on the version's cached connection.
    titles = app_snapshot.frame(snap.version, "select course_title from courses")
    assert sealed["title"] in set(titles["course_title"])
    user = UserStore().authenticate(USERNAME, PASSWORD)
    assert user.learner_key == sealed["learner"]
    assert [c.course_id for c in ControlStore().in_force().controls] == [sealed["course_id"]]
    assert KeyStore().authenticate(sealed["token"]).learner_key == sealed["learner"]


def test_no_store_opens_without_its_key(sealed, monkeypatch):
    home = sealed["home"]
    _with_keys(monkeypatch, home, warehouse="", vault="")
    snap = snapshots.require_current()
    with pytest.raises(at_rest.AtRestError, match="set PATHWISE_WAREHOUSE_KEY"):
        snap.connect()
    table = snap.table_path("recommendations")
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect().sql(f"select count(*) from read_parquet('{table}')").fetchall()
    for path in (home / "users.sqlite", home / "controls.sqlite"):
        with pytest.raises(sqlite3.DatabaseError, match="not a database"):
            sqlite3.connect(path).execute("select * from sqlite_master").fetchall()
    with pytest.raises(at_rest.AtRestError, match="set PATHWISE_WAREHOUSE_KEY"):
        UserStore()
    with pytest.raises(at_rest.AtRestError, match="set PATHWISE_WAREHOUSE_KEY"):
        KeyStore().list()
    with pytest.raises(json.JSONDecodeError):
        json.loads((home / "api_keys.json").read_bytes())
    # A wrong key is refused as clearly as none.
    _with_keys(monkeypatch, home, warehouse="another-key-of-the-same-length-012")
    with pytest.raises(at_rest.AtRestError, match="does not open"):
        ControlStore()
    with pytest.raises(duckdb.Error, match="AES tag"):
        snapshots.require_current().connect().execute("select count(*) from courses").fetchall()


def test_the_vault_never_opens_with_the_warehouse_key(sealed, monkeypatch):
    home = sealed["home"]
    _with_keys(monkeypatch, home, vault=WAREHOUSE_KEY)
    with (
        pytest.raises(duckdb.Error, match="PATHWISE_VAULT_KEY"),
        connect(vault=True, read_only=True),
    ):
        pass
    _with_keys(monkeypatch, home)
    with connect(vault=True, read_only=True) as con:
        found = con.execute(
            "select count(*) from vault.identities where learner_key = ?", [sealed["learner"]]
        ).fetchall()
    assert found == [(1,)]


def test_home_is_private(sealed):
    """Every folder 0700 and every file 0600, whoever created it (DuckDB, dbt, SQLite, us)."""
    wide = []
    for path in [sealed["home"], *sealed["home"].rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        want = at_rest.DIR_MODE if path.is_dir() else at_rest.FILE_MODE
        if mode != want:
            wide.append(f"{path.relative_to(sealed['home'])}: {oct(mode)}")
    assert wide == []


def test_tighten_fixes_a_home_made_before_the_rule(tmp_path):
    home = tmp_path / "old-home"
    (home / "rec_log").mkdir(parents=True, mode=0o755)
    (home / "rec_log" / "served.ndjson").write_text("{}\n")
    os.chmod(home / "rec_log" / "served.ndjson", 0o644)
    at_rest.tighten(home)
    assert stat.S_IMODE((home / "rec_log").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "rec_log" / "served.ndjson").stat().st_mode) == 0o600


def test_a_plain_store_is_encrypted_in_place_when_a_key_is_set(pathwise_home, monkeypatch):
    store = ControlStore()
    store.suppress("c-plain", reason="before the key", actor="ada")
    assert store.path.read_bytes().startswith(at_rest.SQLITE_HEADER)
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", WAREHOUSE_KEY)
    get_settings.cache_clear()
    history = ControlStore().history()
    assert [c.course_id for c in history.controls] == ["c-plain"]
    assert not store.path.read_bytes().startswith(at_rest.SQLITE_HEADER)
    assert b"before the key" not in store.path.read_bytes()


def test_the_command_line_makes_new_state_private(pathwise_home):
    from typer.testing import CliRunner

    from cli import app

    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, ["keys", "list"])
        now = os.umask(old)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert now == at_rest.PRIVATE_UMASK


def _with_keys(
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    warehouse: str = WAREHOUSE_KEY,
    vault: str = VAULT_KEY,
) -> None:
    monkeypatch.setenv("PATHWISE_HOME", str(home))
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", warehouse)
    monkeypatch.setenv("PATHWISE_VAULT_KEY", vault)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Tests here change keys in the environment; no settings outlive them."""
    yield
    get_settings.cache_clear()


def test_a_luks_volume_is_seen_below_lvm_and_a_plain_disk_is_not(tmp_path):
    """`volume_encrypted` on a /sys/dev/block laid out as Linux does: the file system's device
    (an LVM volume) sits on a dm-crypt device, or on a partition of a plain disk."""
    dev = os.stat(tmp_path).st_dev
    sys_block, devices = tmp_path / "sys-dev-block", tmp_path / "devices"
    sys_block.mkdir()
    lvm, crypt = devices / "dm-1", devices / "dm-0"
    for d, uuid in ((lvm, "LVM-abc"), (crypt, "CRYPT-LUKS2-0123-root")):
        (d / "dm").mkdir(parents=True)
        (d / "dm" / "uuid").write_text(uuid + "\n")
    (lvm / "slaves").mkdir()
    (lvm / "slaves" / "dm-0").symlink_to(crypt)
    link = sys_block / f"{os.major(dev)}:{os.minor(dev)}"
    link.symlink_to(lvm)
    assert at_rest.volume_encrypted(tmp_path, sys_block) is True
    partition = devices / "vda" / "vda1"
    partition.mkdir(parents=True)
    (partition / "partition").write_text("1\n")
    link.unlink()
    link.symlink_to(partition)
    assert at_rest.volume_encrypted(tmp_path, sys_block) is False
    link.unlink()
    assert at_rest.volume_encrypted(tmp_path, sys_block) is None  # tmpfs, overlay: cannot tell


def test_production_refuses_plain_landing_files_unless_vouched_for(pathwise_home, monkeypatch):
    from pathwise.production import problems

    monkeypatch.setenv("PATHWISE_ENV", "production")
    get_settings.cache_clear()
    assert not [p for p in problems() if "landing" in p]  # no landing files: nothing to protect
    drop = get_settings().landing_dir / "platform" / "events"
    drop.mkdir(parents=True)
    (drop / "day-1.ndjson").write_text("{}\n")
    on_luks = at_rest.volume_encrypted(drop)
    found = [p for p in problems() if "landing" in p]
    assert (found == []) if on_luks else ("PATHWISE_LANDING_VOLUME_ENCRYPTED=true" in found[0])
    monkeypatch.setenv("PATHWISE_LANDING_VOLUME_ENCRYPTED", "true")
    get_settings.cache_clear()
    assert not [p for p in problems() if "landing" in p]
