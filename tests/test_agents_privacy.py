"""The agents on the privacy platform (tests/_privacy_platform.py), after the real nightly flow and
its `agents` step: a neighbour who withdrew consent to messages gets nothing, and no e-mail address
or raw platform id lands in the warehouse, the outbox, the logs or the snapshots. Erasure of the
outbox and the vault's contacts is covered by tests/test_erasure.py's byte scan (same platform).
"""

from __future__ import annotations

from datetime import date

import pytest
from _privacy_platform import EMAIL, OTHER_ID, USER_ID
from _privacy_platform import build as privacy_platform
from test_erasure import holdings

from pathwise.outbox import Outbox
from pathwise.privacy import pseudonym
from pathwise.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_opted_out_learners_get_nothing_and_the_reason_is_recorded(tmp_path_factory):
    home = privacy_platform(tmp_path_factory)
    key = get_settings().pseudonym_key.get_secret_value()
    planted, neighbour = pseudonym(USER_ID, key), pseudonym(OTHER_ID, key)
    outbox = Outbox(home / "outbox.sqlite")
    decisions = {d.learner_key: d for d in outbox.decisions("reengage")}
    assert decisions[neighbour].outcome == "opted_out"
    assert neighbour not in {m.learner_key for m in outbox.messages()}
    # The planted learner (consenting, inactive beyond this platform's 1-day threshold) is nudged.
    assert decisions[planted].outcome == "treated"
    [nudge] = [m for m in outbox.messages() if m.learner_key == planted]
    assert nudge.evidence["thresholds"]["inactive_days"] == 1
    assert date.fromisoformat(decisions[planted].day) == nudge.created_at.date()


def test_no_address_or_raw_id_outside_the_vault_and_the_landing_files(tmp_path_factory):
    home = privacy_platform(tmp_path_factory)
    outbox = Outbox(home / "outbox.sqlite")
    assert outbox.messages(), "the agents sent nothing: the scan below would prove little"
    found = holdings(home, {"email": EMAIL, "user_id": USER_ID, "neighbour": OTHER_ID})
    # Where they may be: the platform's own files as sent, and the vault (identities, quarantined
    # originals; the address there is sealed, so its bytes are not found even there).
    allowed = ("landing/", "vault.duckdb")
    leaks = {where: names for where, names in found.items() if not where.startswith(allowed)}
    assert leaks == {}
    assert not any("email" in names for where, names in found.items() if "contacts" in where)
    scanned = {p.relative_to(home).parts[0] for p in home.rglob("*") if p.is_file()}
    assert {"outbox.sqlite", "warehouse.duckdb", "snapshots", "rec_log", "dbt"} <= scanned
