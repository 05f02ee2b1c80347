"""Admin controls: what a boost, a suppression, an expiry, a revocation and new weights do."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from pathwise.controls import ControlError, ControlStore, ControlWatcher, apply_controls


@pytest.fixture
def store(pathwise_home) -> ControlStore:
    return ControlStore()


def candidates(*scores: float) -> list[dict]:
    return [{"course_id": f"c{i}", "score": s, "rank": i + 1} for i, s in enumerate(scores)]


def test_changes_need_an_actor_a_reason_and_sane_values(store):
    with pytest.raises(ControlError, match="reason"):
        store.boost("c1", amount=0.2, reason=" ", actor="ada")
    with pytest.raises(ControlError, match="actor"):
        store.suppress("c1", reason="broken", actor="")
    with pytest.raises(ControlError, match="amount"):
        store.boost("c1", amount=3, reason="pin it", actor="ada")
    with pytest.raises(ControlError, match="future"):
        store.boost("c1", amount=0.2, reason="x", actor="ada", days=0)
    with pytest.raises(ControlError, match="weights"):
        store.set_weights({"a": -1.0}, reason="x", actor="ada")
    assert list(store.in_force().controls) == [] and store.audit() == []


def test_expired_and_revoked_controls_stop_applying(store):
    boost = store.boost("c1", amount=0.2, reason="campaign", actor="ada", days=1)
    gone = store.suppress("c2", reason="broken video", actor="ada", days=None)
    store.revoke(gone, reason="video fixed", actor="bob")
    assert [c.control_id for c in list(store.in_force().controls)] == [boost]
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert store.in_force(tomorrow).controls == ()
    with pytest.raises(ControlError, match="no active control"):
        store.revoke(gone, reason="again", actor="bob")


def test_every_change_is_audited_newest_first(store):
    store.boost("c1", amount=0.2, reason="campaign", actor="ada")
    store.set_weights({"a": 1.0, "b": 0.5}, reason="more content", actor="bob")
    audit = store.audit()
    assert [(a["actor"], a["action"], a["target"], a["reason"]) for a in audit] == [
        ("bob", "set_weights", "blend", "more content"),
        ("ada", "boost", "c1", "campaign"),
    ]
    assert audit[0]["details"] == {"weights": {"a": 1.0, "b": 0.5}}
    assert datetime.fromisoformat(audit[1]["at"]) <= datetime.now(UTC)


def test_saved_weights_override_the_versioned_defaults(store):
    defaults = {"a": 0.6, "b": 0.4}
    assert store.in_force().weights(defaults) == defaults
    store.set_weights({"a": 0.1, "zzz": 5.0}, reason="try", actor="ada")
    # Signals the recommender does not know are ignored; missing ones keep their default.
    assert store.in_force().weights(defaults) == {"a": 0.1, "b": 0.4}


def test_suppression_removes_and_the_list_is_refilled(store):
    store.suppress("c0", reason="broken", actor="ada")
    top, used = apply_controls(candidates(0.9, 0.8, 0.7, 0.6), list(store.in_force().controls), k=3)
    assert [r["course_id"] for r in top] == ["c1", "c2", "c3"]
    assert [r["rank"] for r in top] == [1, 2, 3]
    assert used == [c.control_id for c in store.in_force().controls]


def test_boost_reranks_only_courses_the_learner_could_get(store):
    lifted = store.boost("c2", amount=0.3, reason="campaign", actor="ada")
    store.boost("elsewhere", amount=1.0, reason="not eligible here", actor="ada")
    top, used = apply_controls(candidates(0.9, 0.8, 0.7, 0.1), list(store.in_force().controls), k=2)
    assert [(r["course_id"], round(r["score"], 6)) for r in top] == [("c2", 1.0), ("c0", 0.9)]
    assert top[0]["boost"] == pytest.approx(0.3)
    assert used == [lifted]  # the other boost changed nothing for this learner


def test_a_boost_below_the_cut_is_not_reported_as_applied(store):
    store.boost("c3", amount=0.1, reason="small nudge", actor="ada")
    top, used = apply_controls(candidates(0.9, 0.8, 0.7, 0.1), list(store.in_force().controls), k=2)
    assert [r["course_id"] for r in top] == ["c0", "c1"] and used == []


def test_the_watcher_sees_a_change_from_another_process_at_once(store):
    """The read API's watcher and the Control Tower are different processes. The watcher's process
    also opens new store connections (to re-read the controls), which once dropped the watcher's
    SQLite locks and hid every later change made elsewhere."""
    watcher = ControlWatcher(store)
    assert list(watcher.in_force().controls) == []

    def suppress_elsewhere(course_id: str) -> None:
        code = (
            "from pathwise.controls import ControlStore; "
            f"ControlStore({str(store.path)!r}).suppress({course_id!r}, reason='r', actor='ada')"
        )
        subprocess.run([sys.executable, "-c", code], check=True, env=os.environ)

    suppress_elsewhere("c9")
    assert [c.course_id for c in watcher.in_force().controls] == ["c9"]
    suppress_elsewhere("c8")  # after the watcher's own process re-read the store
    assert sorted(c.course_id for c in watcher.in_force().controls) == ["c8", "c9"]
    watcher.close()


def test_the_recommenders_order_is_kept_where_no_control_applies(store):
    """Lists are diversified, so rank order is not score order; controls must not undo that."""
    diversified = candidates(0.9, 0.5, 0.8, 0.4)  # c2 was moved below c1 for diversity
    top, _ = apply_controls(diversified, [], k=4)
    assert [r["course_id"] for r in top] == ["c0", "c1", "c2", "c3"]
    store.boost("c3", amount=0.2, reason="campaign", actor="ada")  # 0.6: ahead of c1 (0.5)
    top, _ = apply_controls(diversified, list(store.in_force().controls), k=4)
    assert [r["course_id"] for r in top] == ["c0", "c3", "c1", "c2"]


def test_a_course_ranked_under_an_ended_boost_is_re_placed_by_its_own_score():
    ranked = candidates(0.9, 0.3, 0.8, 0.7)  # c1 was at rank 2 thanks to last night's boost
    ranked[1]["nightly_boost"] = 0.6
    top, used = apply_controls(ranked, [], k=4)
    assert [r["course_id"] for r in top] == ["c0", "c2", "c3", "c1"] and used == []


def test_what_was_in_force_at_an_earlier_time(store):
    """The app attributes a snapshot to the controls and weights of its time, not today's."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    defaults = {"a": 0.6, "b": 0.4}
    boost = store.boost("c1", amount=0.2, reason="campaign", actor="ada")
    store.set_weights({"a": 1.0}, reason="more a", actor="ada")
    between = datetime.now(UTC)
    store.revoke(boost, reason="over", actor="ada")
    store.set_weights({"a": 0.0, "b": 1.0}, reason="only b", actor="ada")
    assert (
        store.in_force(before).controls == ()
        and store.in_force(before).weights(defaults) == defaults
    )
    assert [c.control_id for c in store.in_force(between).controls] == [boost]
    assert store.in_force(between).weights(defaults) == {"a": 1.0, "b": 0.4}
    assert store.in_force().controls == () and store.in_force().weights(defaults) == {
        "a": 0.0,
        "b": 1.0,
    }
    # A naive time is UTC, as in the warehouse.
    assert store.in_force(between.replace(tzinfo=None)).weights(defaults)["a"] == 1.0


@pytest.mark.parametrize(
    ("weights", "problem"),
    [
        ({"a": -0.1}, ">= 0"),
        ({"a": float("nan")}, ">= 0"),
        ({"a": True}, ">= 0"),
        ({"a": 0.0, "b": 0.0}, "all be zero"),
        ({"zzz": 1.0}, "Unknown signal 'zzz'"),
    ],
)
def test_weights_are_validated_one_way_wherever_they_come_from(store, weights, problem):
    from pathwise.controls import resolve_weights

    with pytest.raises(ControlError, match=problem):
        store.set_weights(weights, reason="try", actor="ada", known=["a", "b"])
    with pytest.raises(ControlError, match=problem):
        resolve_weights({"a": 0.5, "b": 0.5}, weights)
