"""The Control Tower's "Privacy requests" page (apps/app_pages/privacy_requests.py) with Streamlit's
AppTest, on a copy of the planted platform of tests/_privacy_platform.py: the export downloads
what `pathwise privacy export` writes, the erasure waits for its confirmation, then erases through
`pathwise.rights` (the vault forgets the learner) and shows in the audit under the admin's name,
and a nightly run holding the warehouse is a clean "busy", not an error."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _privacy_platform import PASSWORD, USER_ID, copy_of_platform
from streamlit.testing.v1 import AppTest

from pathwise.accounts import UserStore
from pathwise.rights.erase import resolve
from pathwise.settings import get_settings
from pathwise.warehouse import connect

pytestmark = pytest.mark.usefixtures("prefect_harness")

ENTRY = str(Path(__file__).resolve().parent.parent / "apps" / "streamlit_app.py")
PAGE = "app_pages/privacy_requests.py"


def admin_page() -> AppTest:
    store = UserStore()
    admin = store.get("privacy-admin") or store.add("privacy-admin", PASSWORD, "admin")
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state["pathwise_user"] = dataclasses.replace(admin, signed_in_at=time.time())
    at.run()
    return at.switch_page(PAGE).run()


@contextmanager
def held_by_another_process(path: Path) -> Iterator[None]:
    """A writer's lock on the DuckDB file, from another process (as a nightly run holds it)."""
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); input()"
    writer = subprocess.Popen(
        [sys.executable, "-c", hold, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert writer.stdout.readline().strip() == b"held"
        yield
    finally:
        writer.communicate(b"\n", timeout=30)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_export_then_confirmed_erasure_audited(tmp_path_factory, tmp_path):
    with copy_of_platform(tmp_path_factory, tmp_path / "home") as home:
        at = admin_page()
        ok(at)
        assert at.title[0].value == "Privacy requests"
        assert "No erasure yet." in [c.value for c in at.caption]
        at.text_input(key="privacy_user_id").input(USER_ID).run()
        button(at, "Prepare the export").click().run()
        ok(at)
        data = at.session_state["privacy_export"][1]  # what the download button serves
        assert any(d.label.startswith("Download the export") for d in at.get("download_button"))
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            summary = json.loads(z.read("learner.json"))
            assert summary["user_id"] == USER_ID and summary["known"]
            assert any(n.startswith("tables/") for n in z.namelist())

        # The erasure waits for the id typed again and the box ticked.
        assert button(at, "Erase this learner").disabled
        at.text_input(key="privacy_confirm").input(USER_ID + "x").run()
        at.checkbox(key="privacy_sure").check().run()
        assert button(at, "Erase this learner").disabled
        at.text_input(key="privacy_confirm").input(USER_ID).run()
        assert not button(at, "Erase this learner").disabled

        # While another process (a nightly run) holds the warehouse, a clean "busy".
        with held_by_another_process(home / "warehouse.duckdb"):
            button(at, "Erase this learner").click().run()
            ok(at)
            assert "busy" in at.warning[0].value
        button(at, "Erase this learner").click().run()
        ok(at)
        assert "Erased in" in at.success[0].value
        with connect(vault=True, read_only=True) as con:
            _, known = resolve(con, USER_ID, get_settings().pseudonym_key.get_secret_value())
        assert not known
        audit = at.dataframe[0].value
        assert list(audit["requested by"]) == ["app:privacy-admin"]
        assert audit["rows deleted"].iloc[0] > 0
