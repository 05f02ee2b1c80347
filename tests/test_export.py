"""`pathwise privacy export USER_ID` on the planted learner of tests/_privacy_platform.py, after
the real pipeline: everything held about them, readable, and nobody else's rows."""

from __future__ import annotations

import csv
import json
import zipfile

import pytest
from _privacy_platform import (
    APP_EVENTS,
    EMAIL,
    FORUM_TEXT,
    SEARCH_TEXT,
    USER_ID,
    USERNAME,
    copy_of_platform,
    planted_lines,
)
from typer.testing import CliRunner

from cli import app
from pathwise.privacy import pseudonym
from pathwise.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_export_holds_everything_about_the_learner_and_nobody_else(tmp_path_factory, tmp_path):
    out = tmp_path / "export"
    with copy_of_platform(tmp_path_factory, tmp_path / "home"):
        learner_key = pseudonym(USER_ID, get_settings().pseudonym_key.get_secret_value())
        result = CliRunner().invoke(app, ["privacy", "export", USER_ID, "--out", str(out)])
    assert result.exit_code == 0, result.output

    summary = json.loads((out / "learner.json").read_text())
    assert summary["user_id"] == USER_ID and summary["learner_key"] == learner_key
    assert summary["known"] is True
    # The headline sections: what they consented to, what was inferred, what they were sent.
    assert [(c["properties"]["tier"], c["properties"]["granted"]) for c in summary["consents"]] == [
        ("fine", True)
    ]
    assert [n["properties"]["nudge_id"] for n in summary["nudges"]] == ["n-1"]
    assert summary["profile"] and summary["profile"][0]["learner_key"] == learner_key
    assert summary["learning_style"] and summary["dropout_risk"] is not None
    recs = summary["recommendations"]
    assert recs, "the planted learner gets recommendations"
    assert all(r["reason"] and "contrib_collaborative" in r for r in recs)
    assert [r["rec_id"] for r in summary["served_recommendations"]] == ["r-planted-1"]
    # What was shown, as shown: reason, each signal's contribution and weight, where and to whom.
    shown = summary["served_recommendations"][0]
    assert shown["reason"] == "Because you took Microsoft Excel Fundamentals"
    assert shown["contributions"] == {"collaborative": 0.6, "popularity": 0.3}
    assert shown["weights"] == {"collaborative": 1.0, "popularity": 0.5}
    assert (shown["served_via"], shown["caller_kind"], shown["caller_name"]) == (
        "learner_app",
        "app_account",
        USERNAME,
    )

    rows = summary["rows_per_table"]
    # every line they sent, as sent, and the click the app wrote for them
    assert rows["landing"] == len(planted_lines()) - 1 + APP_EVENTS
    assert rows["vault.identities"] == 1 and rows["vault.quarantine_originals"] == 1
    assert rows["rec_log"] == 1 and rows["accounts"] == 1 and rows["api_keys"] == 1
    assert rows["warehouse.raw.events"] >= 8 and rows["warehouse.raw.fine_signals_daily"] == 1
    # The agents' nudge to them and why, and the address they gave for e-mail (from the vault).
    assert rows["outbox.messages"] == 1 and rows["outbox.decisions"] == 1
    assert rows["vault.contacts"] == 1
    # Their onboarding conversation, goal and path (with why it changed).
    assert rows["learning_paths.goals"] == rows["learning_paths.paths"] == 1
    assert rows["learning_paths.turns"] == 12 and rows["learning_paths.path_changes"] == 1

    tables = {p.name: p for p in (out / "tables").iterdir()}
    events = (out / "tables" / "warehouse.raw.events.csv").read_text()
    assert FORUM_TEXT in events and SEARCH_TEXT in events
    assert EMAIL not in events  # the warehouse holds the redacted query
    assert EMAIL in (out / "tables" / "landing.csv").read_text()  # as the platform sent it
    assert EMAIL in (out / "tables" / "vault.quarantine_originals.csv").read_text()
    accounts = (out / "tables" / "accounts.csv").read_text()
    assert USERNAME in accounts and "$2b$" not in accounts  # never the password hash
    # Nobody else: every table with a learner_key holds only theirs.
    for name, path in tables.items():
        with path.open() as f:
            for row in csv.DictReader(f):
                assert row.get("learner_key", learner_key) == learner_key, name

    with zipfile.ZipFile(f"{out}.zip") as z:
        assert "learner.json" in z.namelist()
        assert {f"tables/{n}" for n in tables} <= set(z.namelist())
