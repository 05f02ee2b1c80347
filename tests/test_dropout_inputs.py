"""What the dropout model adds to the contract: `enroll`'s optional `attempt` and
`studied_credits`, and modules.csv's optional `due_day`. Declared fields are checked like every
other; undeclared catalog columns are still refused. Real DuckDB files, real ingestion.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathwise.catalog import CatalogError, load_catalog_file
from pathwise.events_io import write_lines
from pathwise.ingestion import ingest_file
from pathwise.warehouse import connect

COURSES = "course_id,title,description,category,difficulty,instructor_id,language,primary_format\n"
MODULES = "course_id,module_id,position,title,duration_minutes,format"


def enroll(n: int, properties: dict) -> str:
    return json.dumps(
        {
            "event_id": f"en-{n}",
            "event_type": "enroll",
            "occurred_at": f"2026-01-05T10:0{n}:00Z",
            "user_id": f"usr-{n}",
            "course_id": "C1",
            "schema_version": 1,
            "properties": properties,
        }
    )


def test_enrolment_attempt_and_credits_are_checked_like_any_property(pathwise_home, tmp_path):
    lines = [
        enroll(1, {"attempt": 2, "studied_credits": 120}),
        enroll(2, {}),  # both optional: older platforms and the simulator send neither
        enroll(3, {"attempt": 0}),
        enroll(4, {"studied_credits": "sixty"}),
        enroll(5, {"studied_credits": -30}),
    ]
    path = write_lines(lines, tmp_path / "enrolments.ndjson.gz")
    result = ingest_file(path)
    assert (result.loaded, result.quarantined) == (2, 3)
    with connect(read_only=True) as con:
        reasons = con.execute(
            "select line_no, reason, detail from raw.quarantined_events order by 1"
        ).fetchall()
        stored = con.execute(
            "select properties->>'attempt', properties->>'studied_credits' from raw.events "
            "order by event_id"
        ).fetchall()
    assert reasons == [
        (3, "invalid_property", "attempt"),
        (4, "wrong_type", "properties.studied_credits"),
        (5, "invalid_property", "studied_credits"),
    ]
    assert stored == [("2", "120"), (None, None)]


def catalog(tmp_path: Path, modules: str) -> Path:
    (tmp_path / "courses.csv").write_text(COURSES + "C1,Course one,,,,,en,reading\n")
    (tmp_path / "modules.csv").write_text(modules)
    return tmp_path


def due_days() -> list[tuple]:
    with connect(read_only=True) as con:
        return con.execute(
            "select module_id, due_day from raw.catalog_modules order by position"
        ).fetchall()


def test_modules_may_carry_due_days(pathwise_home, tmp_path):
    folder = catalog(tmp_path, f"{MODULES},due_day\nC1,m1,1,One,60,video,19\nC1,m2,2,Two,60,,\n")
    with connect() as con:
        load_catalog_file(con, folder / "courses.csv")
        assert load_catalog_file(con, folder / "modules.csv")["rows"] == 2
    assert due_days() == [("m1", 19.0), ("m2", None)]


def test_due_day_column_is_optional(pathwise_home, tmp_path):
    folder = catalog(tmp_path, f"{MODULES}\nC1,m1,1,One,60,video\n")
    with connect() as con:
        load_catalog_file(con, folder / "courses.csv")
        load_catalog_file(con, folder / "modules.csv")
    assert due_days() == [("m1", None)]


@pytest.mark.parametrize(
    ("modules", "problem"),
    [
        (f"{MODULES},due_day\nC1,m1,1,One,60,video,-3\n", "line 2: due_day must be 0 or more"),
        (f"{MODULES},weight\nC1,m1,1,One,60,video,10\n", "unknown column(s) weight"),
    ],
)
def test_wrong_or_undeclared_due_dates_are_refused(pathwise_home, tmp_path, modules, problem):
    folder = catalog(tmp_path, modules)
    with connect() as con:
        load_catalog_file(con, folder / "courses.csv")
        with pytest.raises(CatalogError, match=problem.replace("(", r"\(").replace(")", r"\)")):
            load_catalog_file(con, folder / "modules.csv")
    assert due_days() == []
