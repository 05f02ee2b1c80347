"""One small simulated warehouse for the ML tests (test_dropout, test_styles, test_backtest) and
the catalog marts' (test_marts_catalog), built once per session: a simulated platform, plus a
hand-made cohort course whose at-risk flags are worked out by hand, ingested and built up to the
`marts.ml_*` models and the catalog marts by the real dbt build.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from flows.build import build_flow
from flows.ingest import ingest_flow
from pathwise.settings import get_settings
from pathwise.sources.simulator import simulate
from pathwise.warehouse import connect

# The catalog marts: the cohort finder reads them (test_backtest), test_marts_catalog checks them.
SELECT = (
    "+ml_dropout_checkpoint_features +ml_learner_style_signals +learners "
    "+marts.catalog +ml_course_interactions"
)
# Named like an OULAD presentation: starts 2026-02-01 12:00 UTC and runs 100 days (stated in the
# catalog), so its 10% checkpoint is 2026-02-11 12:00.
HB_COURSE = "oulad:ZZZ-2026B"
# Its modules and their due days (dates on the course clock): A1 Feb 6, A2 Feb 9, A3 Feb 11 (the
# 10% checkpoint's own date: not due yet then), A4 Feb 15.
HB_DUE_DAYS = {"A1": 5, "A2": 8, "A3": 10, "A4": 14}
_built: dict[str, Path] = {}


def hand_made_events() -> list[tuple]:
    """(occurred_at, event_type, learner_key, properties[, module]) in HB_COURSE."""

    def quiz(day: int, score: float, hour: int = 10) -> tuple:
        return datetime(2026, 2, day, hour), {"quiz_id": "q", "score": score, "attempt": 1}

    enrol = datetime(2026, 1, 20, 9)
    rows = [(enrol, "enroll", f"hb-{k}", {}) for k in (
        "fail-idle", "pass-idle", "fail-active", "silent", "late", "boundary", "dropped"
    )]  # fmt: skip
    for learner, (t, props) in {
        "fail-idle": quiz(3, 0.30),  # failing, inactive 8 days: at risk
        "pass-idle": quiz(3, 0.90),  # passing: not at risk
        "fail-active": quiz(8, 0.30),  # inactive 3 days: not at risk
        "late": quiz(3, 0.30),
        "boundary": quiz(4, 0.30),  # inactive exactly 7 days: at risk
    }.items():
        rows.append((t, "quiz_submit", f"hb-{learner}", props))
    # hb-late is active on the checkpoint's day, before and after its time: neither counts.
    rows.append((datetime(2026, 2, 11, 11), "quiz_submit", "hb-late", quiz(11, 0.95)[1]))
    rows.append((datetime(2026, 2, 11, 13), "course_view", "hb-late", {}))
    rows.append((datetime(2026, 2, 5, 9), "course_drop", "hb-dropped", {}))  # gone before p10
    # hb-overdue: A1 on time, A2 three days late (after the 10% checkpoint), A3 and A4 never.
    rows.append((enrol, "enroll", "hb-overdue", {"attempt": 2, "studied_credits": 90}))
    for day, module in ((5, "A1"), (12, "A2")):
        when = datetime(2026, 2, day, 10)
        rows.append((when, "module_complete", "hb-overdue", {}, module))
        rows.append((when, "quiz_submit", "hb-overdue", quiz(day, 0.8)[1], module))
    return rows


def _write_hand_made() -> None:
    loaded = datetime(2026, 3, 1)
    with connect() as con:
        con.execute(
            "insert into raw.catalog_courses values (?, 'Hand-made', "
            "'Open University module ZZZ, 2026B presentation: 100 days, 1 assessments.', "
            "null, null, null, 'en', 'reading', ?)",
            [HB_COURSE, loaded],
        )
        con.executemany(
            "insert into raw.catalog_modules values (?, ?, ?, ?, 60, 'reading', ?, ?)",
            [
                (HB_COURSE, f"{HB_COURSE}:{m}", i + 1, m, loaded, due)
                for i, (m, due) in enumerate(HB_DUE_DAYS.items())
            ],
        )
        events = [(*e, None)[:5] for e in hand_made_events()]  # the module is optional
        con.executemany(
            "insert into raw.events values (?, ?, ?, ?, null, ?, ?, 1, ?, 'hb', ?)",
            [
                (
                    f"hb{i}",
                    kind,
                    t,
                    learner,
                    HB_COURSE,
                    m and f"{HB_COURSE}:{m}",
                    json.dumps(p),
                    loaded,
                )
                for i, (t, kind, learner, p, m) in enumerate(events)
            ],
        )


def build_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding `home/` (the warehouse) and `land/truth/` (planted traits)."""
    if "root" in _built:
        return _built["root"]
    root = tmp_path_factory.mktemp("ml-sim")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(root / "home"))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        simulate(
            learners=500, courses=20, days=45, seed=11, out=root / "land", fmt="parquet",
            start="2026-01-05", bad_share=0.0,
        )  # fmt: skip
        ingest_flow(paths=[str(root / "land")])
        _write_hand_made()
        assert build_flow(select=SELECT)["failures"] == []
    get_settings.cache_clear()
    _built["root"] = root
    return root
