"""Real platforms' data end to end: OULAD and COCO -> import -> ingest -> dbt build (staging).

The expected counts are read from the source files here, independently of the importers.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from pathlib import Path

import pytest

from pathwise.settings import SHARED_DATA
from pathwise.sources.coco import import_coco
from pathwise.sources.oulad import import_oulad
from pathwise.warehouse import connect

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "oulad").is_dir(), reason=f"public datasets not found in {SHARED_DATA}"
)


def rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def expected() -> dict[str, int]:
    d = SHARED_DATA / "oulad"
    regs = rows(d / "studentRegistration.csv")
    info = rows(d / "studentInfo.csv")
    subs = rows(d / "studentAssessment.csv.gz")
    unregistered = {
        (r["code_module"], r["code_presentation"], r["id_student"])
        for r in regs
        if r["date_unregistration"].strip()
    }
    results = Counter(r["final_result"] for r in info)
    withdrawn_silently = sum(
        r["final_result"] == "Withdrawn"
        and (r["code_module"], r["code_presentation"], r["id_student"]) not in unregistered
        for r in info
    )
    coco = (SHARED_DATA / "coco" / "valid.txt").read_text().splitlines()
    return {
        "oulad_courses": len(rows(d / "courses.csv")),
        "oulad_enrolments": len(regs),
        "oulad_drops": len(unregistered) + withdrawn_silently,
        "oulad_completions": results["Pass"] + results["Distinction"] + results["Fail"],
        "oulad_module_completions": len(subs),
        "oulad_scored_quizzes": sum(bool(r["score"].strip()) for r in subs),
        "coco_enrolments": sum(bool(line.strip()) for line in coco),
    }


def test_oulad_and_coco_build_every_mart_with_source_counts(
    expected, pathwise_home, prefect_harness, tmp_path
):
    from flows.build import build_flow
    from flows.ingest import ingest_flow

    import_oulad(SHARED_DATA / "oulad", tmp_path / "oulad", "parquet")
    import_coco(SHARED_DATA / "coco", tmp_path / "coco", "ndjson")
    result = ingest_flow(paths=[str(tmp_path / "oulad"), str(tmp_path / "coco")])
    assert result["reconciled"]
    assert result["totals"]["quarantined"] == result["totals"]["duplicates"] == 0
    built = build_flow()  # every model and every test, on the real data
    assert built["failures"] == []

    def one(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    with connect(read_only=True) as con:
        got = {
            "oulad_courses": one(
                "select count(*) from staging.stg_pathwise__courses where course_id like 'oulad:%'"
            ),
            "oulad_enrolments": one(
                "select count(*) from staging.stg_pathwise__enrolments where course_id like 'oulad:%'"
            ),
            "oulad_drops": one(
                "select count(*) from staging.stg_pathwise__course_ends "
                "where course_id like 'oulad:%' and outcome = 'dropped'"
            ),
            "oulad_completions": one(
                "select count(*) from staging.stg_pathwise__course_ends "
                "where course_id like 'oulad:%' and is_completed"
            ),
            "oulad_module_completions": one(
                "select count(*) from staging.stg_pathwise__module_completions "
                "where course_id like 'oulad:%'"
            ),
            "oulad_scored_quizzes": one(
                "select count(*) from staging.stg_pathwise__quiz_submissions "
                "where course_id like 'oulad:%' and score is not null"
            ),
            "coco_enrolments": one(
                "select count(*) from staging.stg_pathwise__enrolments where course_id like 'coco:%'"
            ),
        }
        learners = one("select count(distinct learner_key) from staging.stg_pathwise__enrolments")
        mart_learners = one("select count(*) from marts.learners where enrolments > 0")
        progress_rows = one("select count(*) from marts.learner_course_progress")
        enrolled_pairs = one(
            "select count(*) from (select distinct learner_key, course_id "
            "from staging.stg_pathwise__enrolments)"
        )
    assert got == expected
    students = {r["id_student"] for r in rows(SHARED_DATA / "oulad" / "studentRegistration.csv")}
    coco_users = {
        line.split("\t")[0]
        for line in (SHARED_DATA / "coco" / "valid.txt").read_text().splitlines()
        if line.strip()
    }
    assert learners == len(students) + len(coco_users)
    assert mart_learners == learners and progress_rows == enrolled_pairs
