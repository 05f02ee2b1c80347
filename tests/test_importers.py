"""The OULAD and COCO importers, on the real files in ../shared/data and on small hand-built
folders with what that copy lacks (a 2014J presentation, rows referencing unknown ids).

Expected counts come from the source files, read here directly, not from the importers' logic.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pathwise.contract import (
    ENVELOPE,
    EVENT_TYPES,
    FORMATS,
    MAX_EVENT_ID_LENGTH,
    REQUIRED_ENVELOPE,
    SUPPORTED_SCHEMA_VERSIONS,
    Scope,
)
from pathwise.sources.coco import import_coco
from pathwise.sources.oulad import import_oulad

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CATALOG_HEADERS = {
    "courses": "course_id,title,description,category,difficulty,instructor_id,language,primary_format",
    "modules": "course_id,module_id,position,title,duration_minutes,format,due_day",
    "course_skills": "course_id,skill",
    "course_prerequisites": "course_id,prerequisite_course_id",
}
ISO_WITH_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
PY_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool}


def real(name: str) -> Path:
    path = DATA / name
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}: see ../shared/data/MANIFEST.md")
    return path


@pytest.fixture(scope="module")
def oulad(tmp_path_factory):
    out = tmp_path_factory.mktemp("oulad")
    return out, import_oulad(real("oulad"), out, "parquet")


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    out = tmp_path_factory.mktemp("coco")
    return out, import_coco(real("coco"), out, "parquet")


def read_events(out: Path) -> pl.DataFrame:
    """All event files of `out/events`, NDJSON objects re-encoded as Parquet's JSON strings."""
    schema = dict.fromkeys(ENVELOPE, pl.String) | {"schema_version": pl.Int64}
    frames = []
    for path in sorted((out / "events").iterdir()):
        if path.suffix == ".parquet":
            frames.append(pl.read_parquet(path).cast(schema))
            continue
        with gzip.open(path, "rt") as lines:
            rows = [json.loads(line) for line in lines]
        for row in rows:
            row["properties"] = json.dumps(row["properties"])
            row["context"] = None if row["context"] is None else json.dumps(row["context"])
        frames.append(pl.DataFrame(rows, schema=schema))
    return pl.concat(frames)


def read_catalog(out: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(out / "catalog" / f"{name}.csv", infer_schema=False)


def csv_rows(path: Path) -> int:
    """Data rows of a CSV with a header, counted as lines."""
    with gzip.open(path, "rt") if path.suffix == ".gz" else path.open() as f:
        return sum(1 for _ in f) - 1


def assert_valid_events(events: pl.DataFrame) -> None:
    """Every event meets contract v1: envelope, types, scope, properties, timestamps."""
    assert events.columns == list(ENVELOPE)
    for column in REQUIRED_ENVELOPE:
        assert events[column].null_count() == 0, column
    assert events["event_id"].is_unique().all()
    assert events["event_id"].str.len_chars().max() <= MAX_EVENT_ID_LENGTH
    assert set(events["schema_version"].unique()) <= set(SUPPORTED_SCHEMA_VERSIONS)
    assert set(events["event_type"].unique()) <= set(EVENT_TYPES)
    assert events["context"].null_count() == events.height  # no personal data carried along

    for when in events["occurred_at"].unique():
        assert ISO_WITH_ZONE.match(when), when
        assert datetime.fromisoformat(when) > datetime(1990, 1, 1, tzinfo=UTC), when

    for (event_type,), group in events.group_by("event_type"):
        spec = EVENT_TYPES[event_type]
        if spec.scope in (Scope.COURSE, Scope.MODULE):
            assert group["course_id"].null_count() == 0, event_type
        if spec.scope is Scope.MODULE:
            assert group["module_id"].null_count() == 0, event_type
        props = {p.name: p for p in spec.props}
        for raw in group["properties"].unique():
            values = json.loads(raw)
            assert set(values) <= set(props), (event_type, raw)
            for prop in props.values():
                value = values.get(prop.name)
                if value is None:
                    assert not prop.required, (event_type, raw)
                    continue
                if prop.type == "string[]":
                    assert all(isinstance(v, str) for v in value), (event_type, raw)
                else:
                    assert isinstance(value, PY_TYPES[prop.type]), (event_type, raw)
                    assert not isinstance(value, bool) or prop.type == "boolean"
                assert prop.minimum is None or value >= prop.minimum, (event_type, raw)
                assert prop.maximum is None or value <= prop.maximum, (event_type, raw)
                assert prop.choices is None or value in prop.choices, (event_type, raw)


def assert_catalog_integrity(out: Path, events: pl.DataFrame) -> None:
    for name, header in CATALOG_HEADERS.items():
        assert (out / "catalog" / f"{name}.csv").read_text().splitlines()[0] == header
    courses = read_catalog(out, "courses")
    modules = read_catalog(out, "modules")
    assert courses["course_id"].is_unique().all()
    assert courses["title"].null_count() == 0
    assert set(courses["difficulty"].drop_nulls()) <= {"1", "2", "3"}
    assert set(courses["primary_format"].drop_nulls()) <= set(FORMATS)
    assert set(modules["format"].drop_nulls()) <= set(FORMATS)
    known = set(courses["course_id"])
    assert set(events["course_id"].drop_nulls()) <= known
    assert set(modules["course_id"]) <= known
    assert set(events["module_id"].drop_nulls()) <= set(modules["module_id"])
    for name in ("course_skills", "course_prerequisites"):
        assert set(read_catalog(out, name)["course_id"]) <= known
    positions = modules.group_by("course_id").agg(
        pl.col("position").cast(pl.Int64).sort(), n=pl.len()
    )
    for row in positions.iter_rows(named=True):
        assert row["position"] == list(range(1, row["n"] + 1)), row["course_id"]


def assert_same_files(a: Path, b: Path) -> None:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def counts_by_type(events: pl.DataFrame) -> dict[str, int]:
    return dict(events["event_type"].value_counts().iter_rows())


# --- OULAD, real data ------------------------------------------------------------------------


def test_oulad_counts_reconcile_with_the_source_files(oulad):
    out, summary = oulad
    src = real("oulad")
    read = {"null_values": ["", "?"], "infer_schema": False}
    reg = pl.read_csv(src / "studentRegistration.csv", **read)
    info = pl.read_csv(src / "studentInfo.csv", **read)
    subs = pl.read_csv(src / "studentAssessment.csv.gz", **read)
    unregistered = reg.filter(pl.col("date_unregistration").is_not_null())
    withdrawn_only = info.filter(pl.col("final_result") == "Withdrawn").join(
        unregistered, on=["code_module", "code_presentation", "id_student"], how="anti"
    )

    for name in ("courses", "assessments", "vle", "studentInfo", "studentRegistration"):
        assert summary["source_rows"][name] == csv_rows(src / f"{name}.csv")
    assert summary["source_rows"]["studentAssessment"] == csv_rows(src / "studentAssessment.csv.gz")
    expected = {
        "enroll": reg.height,
        "course_drop": unregistered.height + withdrawn_only.height,
        "quiz_submit": subs["score"].drop_nulls().len(),
        "module_complete": subs.height,
        "course_complete": info["final_result"].is_in(["Pass", "Distinction", "Fail"]).sum(),
    }
    assert summary["events"] == expected
    assert counts_by_type(read_events(out)) == expected
    skipped = {r: n for reasons in summary["skipped"].values() for r, n in reasons.items() if n}
    assert skipped == {"missing_score": subs["score"].null_count()}


def test_oulad_events_follow_the_contract_and_catalog(oulad):
    out, summary = oulad
    events = read_events(out)
    assert_valid_events(events)
    assert_catalog_integrity(out, events)
    info = pl.read_csv(real("oulad") / "studentInfo.csv", infer_schema=False)
    assert events["user_id"].n_unique() == info["id_student"].n_unique()  # one learner each
    assert summary["catalog"]["courses"] == csv_rows(real("oulad") / "courses.csv")
    assert summary["catalog"]["modules"] == csv_rows(real("oulad") / "assessments.csv")


def test_oulad_dates_and_scores_from_a_known_row(oulad):
    # AAA 2013J (starts 2013-10-01), student 11391: registered on day -159 for a first attempt
    # while studying 240 credits, scored 78 on assessment 1752 (due day 19) submitted on day 18,
    # final result Pass.
    events = read_events(oulad[0]).filter(pl.col("user_id") == "oulad:11391")
    by_id = {row["event_id"]: row for row in events.iter_rows(named=True)}
    enrolment = by_id["oulad:reg:AAA-2013J:11391"]
    assert enrolment["occurred_at"] == "2013-04-25T12:00:00Z"
    assert json.loads(enrolment["properties"]) == {"attempt": 1, "studied_credits": 240}
    modules = read_catalog(oulad[0], "modules")
    due = dict(modules.select("module_id", "due_day").iter_rows())
    assert due["oulad:AAA-2013J:A1752"] == "19"
    quiz = by_id["oulad:quiz:AAA-2013J:A1752:11391"]
    assert quiz["occurred_at"] == "2013-10-19T12:00:00Z"
    assert json.loads(quiz["properties"]) == {"quiz_id": "1752", "score": 0.78, "attempt": 1}
    assert by_id["oulad:module:AAA-2013J:A1752:11391"]["module_id"] == "oulad:AAA-2013J:A1752"
    assert json.loads(by_id["oulad:result:AAA-2013J:11391"]["properties"]) == {"result": "pass"}


def test_oulad_is_deterministic(oulad, tmp_path):
    import_oulad(real("oulad"), tmp_path, "parquet")
    assert_same_files(oulad[0], tmp_path)


# --- OULAD, hand-built: a presentation this copy withholds, unknown references -----------------


def write_csv(path: Path, header: str, *rows: str) -> None:
    path.write_text("\n".join([header, *rows]) + "\n")


@pytest.fixture
def small_oulad(tmp_path) -> Path:
    src = tmp_path / "oulad"
    src.mkdir()
    write_csv(
        src / "courses.csv",
        "code_module,code_presentation,module_presentation_length",
        "AAA,2013J,268",
        "AAA,2014J,269",
    )
    write_csv(
        src / "assessments.csv",
        "code_module,code_presentation,id_assessment,assessment_type,date,weight",
        "AAA,2013J,1,TMA,20,50",
        "AAA,2013J,2,Exam,,50",
        "AAA,2014J,3,TMA,30,50",
        "AAA,2014J,4,Exam,,50",
        "BBB,2014J,5,TMA,10,100",  # a presentation courses.csv does not list
    )
    write_csv(
        src / "vle.csv",
        "id_site,code_module,code_presentation,activity_type,week_from,week_to",
        "10,AAA,2014J,quiz,0,3",  # days 0..27: inside module A3 (days 0..30) only
        "11,AAA,2014J,resource,,",
        "12,AAA,2014J,resource,,",
    )
    demographics = "M,Scotland,A Level,20-30%,0-35,0,60,N"
    write_csv(
        src / "studentInfo.csv",
        "code_module,code_presentation,id_student,gender,region,highest_education,imd_band,"
        "age_band,num_of_prev_attempts,studied_credits,disability,final_result",
        f"AAA,2013J,100,{demographics},Fail",
        f"AAA,2014J,100,{demographics},Pass",  # the same learner again, next year
        f"AAA,2014J,200,{demographics},Withdrawn",  # no unregistration date
        f"AAA,2014J,300,{demographics},Withdrawn",
        f"BBB,2014J,400,{demographics},Pass",
    )
    write_csv(
        src / "studentRegistration.csv",
        "code_module,code_presentation,id_student,date_registration,date_unregistration",
        "AAA,2013J,100,-10,",
        "AAA,2014J,100,-5,",
        "AAA,2014J,200,,",  # no registration date
        "AAA,2014J,300,-20,15",
        "BBB,2014J,400,-3,",
    )
    write_csv(  # uncompressed, with the original release's '?' for a missing score
        src / "studentAssessment.csv",
        "id_assessment,id_student,date_submitted,is_banked,score",
        "1,100,19,0,55",
        "2,100,270,0,30",  # exam handed in after the presentation's last day (268)
        "3,100,29,0,120",
        "3,200,31,0,?",
        "4,100,265,1,80",
        "99,100,10,0,70",  # an assessment nobody lists
        "5,400,12,0,60",  # an assessment of the unlisted presentation
    )
    return src


def test_oulad_handles_new_presentations_and_unknown_rows(small_oulad, tmp_path):
    summary = import_oulad(small_oulad, tmp_path / "out", "ndjson")
    events = read_events(tmp_path / "out")
    assert_valid_events(events)
    assert_catalog_integrity(tmp_path / "out", events)

    expected = {
        "enroll": 4,
        "course_drop": 2,
        "quiz_submit": 4,
        "module_complete": 5,
        "course_complete": 2,
    }
    assert summary["events"] == expected
    assert counts_by_type(events) == expected
    assert summary["skipped"]["studentRegistration"] == {"unknown_presentation": 1}
    assert summary["skipped"]["studentInfo"]["unknown_presentation"] == 1
    assert summary["skipped"]["assessments"] == {"unknown_presentation": 1}
    assert summary["skipped"]["studentAssessment"] == {
        "unknown_assessment": 2,
        "missing_date_submitted": 0,
        "missing_score": 1,
    }
    assert summary["notes"]["enroll_date_assumed"] == 1
    assert summary["notes"]["drop_date_assumed"] == 1

    at = dict(events.select("event_id", "occurred_at").iter_rows())
    assert at["oulad:reg:AAA-2013J:100"] == "2013-09-21T12:00:00Z"
    assert at["oulad:reg:AAA-2014J:100"] == "2014-09-26T12:00:00Z"
    assert at["oulad:reg:AAA-2014J:200"] == "2014-10-01T12:00:00Z"  # unknown: the start
    assert at["oulad:drop:AAA-2014J:300"] == "2014-10-16T12:00:00Z"
    assert at["oulad:drop:AAA-2014J:200"] == "2015-06-27T12:00:00Z"  # withdrawn: by the end
    assert at["oulad:result:AAA-2013J:100"] == "2014-06-28T12:00:00Z"  # after the late exam
    assert at["oulad:result:AAA-2014J:100"] == "2015-06-27T12:00:00Z"
    assert "oulad:quiz:AAA-2014J:A3:200" not in at
    assert at["oulad:module:AAA-2014J:A3:200"] == "2014-11-01T12:00:00Z"
    props = dict(events.select("event_id", "properties").iter_rows())
    assert json.loads(props["oulad:quiz:AAA-2014J:A3:100"])["score"] == 1.0
    # The attempt is studentInfo's previous attempts + 1; the credits are studied_credits.
    assert json.loads(props["oulad:reg:AAA-2014J:100"]) == {"attempt": 1, "studied_credits": 60}
    due = dict(read_catalog(tmp_path / "out", "modules").select("module_id", "due_day").iter_rows())
    assert due == {
        "oulad:AAA-2013J:A1": "20",
        "oulad:AAA-2013J:A2": "268",  # an exam without a date: due at the end
        "oulad:AAA-2014J:A3": "30",
        "oulad:AAA-2014J:A4": "269",
    }
    assert set(events["user_id"]) == {"oulad:100", "oulad:200", "oulad:300"}

    courses = read_catalog(tmp_path / "out", "courses")
    assert courses["course_id"].to_list() == ["oulad:AAA-2013J", "oulad:AAA-2014J"]
    assert courses["title"][1] == "OU module AAA (2014J)"
    # A3 covers days 0..30, A4 (the exam, at the end: day 269) the 239 days after, at 16 h/week.
    modules = read_catalog(tmp_path / "out", "modules").filter(
        pl.col("course_id") == "oulad:AAA-2014J"
    )
    assert modules.select(
        "module_id", "position", "title", "duration_minutes", "format"
    ).rows() == [
        ("oulad:AAA-2014J:A3", "1", "TMA 1", "4114", "hands-on"),
        ("oulad:AAA-2014J:A4", "2", "Exam 1", "32777", "reading"),
    ]


def test_oulad_ndjson_is_deterministic(small_oulad, tmp_path):
    import_oulad(small_oulad, tmp_path / "a", "ndjson")
    import_oulad(small_oulad, tmp_path / "b", "ndjson")
    assert_same_files(tmp_path / "a", tmp_path / "b")


# --- COCO -----------------------------------------------------------------------------------


def test_coco_counts_reconcile_with_the_source_files(coco):
    out, summary = coco
    src = real("coco")
    tsv = {"separator": "\t", "quote_char": None, "infer_schema": False}
    valid = pl.read_csv(
        src / "valid.txt", has_header=False, new_columns=["uid", "item", "label", "ts"], **tsv
    )
    items = pl.read_csv(src / "i2kg_map.txt", **tsv)
    relations = pl.read_csv(src / "r_map.txt", **tsv)
    kg = pl.read_csv(src / "kg_final.txt", **tsv)
    concept = relations.filter(pl.col("kb_relation") == "related_to_concept")["id"].item()

    events = read_events(out)
    assert summary["source_rows"]["valid.txt"] == valid.height
    assert summary["events"] == {"enroll": valid.height, "held_out_enroll": 0}
    assert counts_by_type(events) == {"enroll": valid.height}
    assert events["user_id"].n_unique() == valid["uid"].n_unique()
    courses = set(read_catalog(out, "courses")["course_id"])
    assert {f"coco:{i}" for i in items["pid"]} | {f"coco:{i}" for i in valid["item"]} == courses
    concepts = kg.filter(pl.col("relation") == concept).unique(["entity_head", "entity_tail"])
    assert summary["catalog"]["course_skills"] == concepts.height
    assert read_catalog(out, "course_skills").height == concepts.height


def test_coco_events_follow_the_contract_and_catalog(coco):
    out, _ = coco
    events = read_events(out)
    assert_valid_events(events)
    assert_catalog_integrity(out, events)
    courses = read_catalog(out, "courses").filter(pl.col("course_id") == "coco:497736")
    assert courses.select("title", "category", "language", "primary_format").row(0) == (
        "Social psychology",
        "academics",
        "en",
        "video",
    )


def test_coco_is_deterministic(coco, tmp_path):
    import_coco(real("coco"), tmp_path, "parquet")
    assert_same_files(coco[0], tmp_path)


def test_coco_items_without_kg_and_repeated_pairs(tmp_path):
    src = tmp_path / "coco"
    src.mkdir()
    (src / "valid.txt").write_text(  # no header; item 99 is not in the KG, and enrolled twice
        "1\t10\t1\t1500000000\n1\t99\t1\t1500000100\n1\t99\t1\t1500000200\n"
    )
    write_csv(src / "users.txt", "uid\tgender\tage", "1\t-1\t-1")
    write_csv(src / "i2kg_map.txt", "eid\tpid\tname\tentity", "0\t10\tintro-to-sql\t10")
    write_csv(
        src / "e_map.txt",
        "eid\tname\tentity",
        "0\t10\t10",
        "1\tdevelopment\tdevelopment",
        "2\tdatabases\tdatabases",
        "3\tSQL\tSQL",
        "4\tbeginner\tbeginner",
        "5\tspanish\tspanish",
    )
    write_csv(
        src / "r_map.txt",
        "id\tkb_relation\tname",
        "0\tbelong_to_category\tbelong_to_category",
        "1\trelated_to_concept\trelated_to_concept",
        "2\ttaught_in_level\ttaught_in_level",
        "3\ttaught_in_language\ttaught_in_language",
    )
    write_csv(
        src / "kg_final.txt",
        "entity_head\trelation\tentity_tail",
        "0\t0\t1",
        "0\t0\t2",
        "0\t1\t3",
        "0\t2\t4",
        "0\t3\t5",
    )
    summary = import_coco(src, tmp_path / "out", "parquet")
    events = read_events(tmp_path / "out")
    assert_valid_events(events)
    assert_catalog_integrity(tmp_path / "out", events)
    assert summary["events"] == {"enroll": 2, "held_out_enroll": 0}
    assert summary["skipped"]["valid.txt"]["duplicate_enrolment"] == 1
    assert events["occurred_at"].to_list() == ["2017-07-14T02:40:00Z", "2017-07-14T02:41:40Z"]
    courses = read_catalog(tmp_path / "out", "courses")
    assert courses.select("course_id", "title", "category", "difficulty", "language").rows() == [
        ("coco:10", "Intro to sql", "development", "1", "es"),
        ("coco:99", "Udemy course 99", None, None, None),
    ]
    assert read_catalog(tmp_path / "out", "course_skills").rows() == [("coco:10", "SQL")]


def test_oulad_clickstream_becomes_material_views(small_oulad, tmp_path):
    # The full release's studentVle.csv (this project's copy has none): clicks per learner, VLE
    # site and day. One material_view per learner x site x day, repeated rows summed.
    write_csv(
        small_oulad / "studentVle.csv",
        "code_module,code_presentation,id_student,id_site,date,sum_click",
        "AAA,2014J,100,11,-3,4",  # before the start: studying early
        "AAA,2014J,100,11,5,2",
        "AAA,2014J,100,11,5,3",  # the same learner, site and day again: summed
        "AAA,2014J,100,12,5,1",
        "AAA,2014J,300,11,14,7",  # the day before unregistering
        "AAA,2014J,300,12,?,1",  # no day
        "AAA,2014J,500,12,6,1",  # a learner with no registration: kept, noted
        "BBB,2014J,400,20,3,9",  # a presentation courses.csv does not list
    )
    summary = import_oulad(small_oulad, tmp_path / "out", "parquet")
    events = read_events(tmp_path / "out")
    assert_valid_events(events)

    assert summary["source_rows"]["studentVle"] == 8
    assert summary["skipped"]["studentVle"] == {
        "unknown_presentation": 1,
        "missing_date_or_clicks": 1,
    }
    assert summary["notes"]["clicks_rows_merged"] == 1
    assert summary["notes"]["clicks_without_registration"] == 1
    assert (
        summary["events"]["material_view"]
        == 8 - 1 - 1 - 1
        == counts_by_type(events)["material_view"]
    )
    views = events.filter(pl.col("event_type") == "material_view")
    got = {
        row["event_id"]: (row["occurred_at"], json.loads(row["properties"]))
        for row in views.iter_rows(named=True)
    }
    assert got["oulad:view:AAA-2014J:S11:D-3:100"] == (
        "2014-09-28T12:00:00Z",
        {"material_id": "vle:11", "clicks": 4},
    )
    assert got["oulad:view:AAA-2014J:S11:D5:100"][1]["clicks"] == 5
    assert got["oulad:view:AAA-2014J:S11:D14:300"][0] == "2014-10-15T12:00:00Z"
    assert set(views["course_id"]) == {"oulad:AAA-2014J"}
    # Without the file, nothing changes: no views, no studentVle counts.
    assert "clickstream" not in summary["notes"]
    (small_oulad / "studentVle.csv").unlink()
    without = import_oulad(small_oulad, tmp_path / "again", "parquet")
    assert "material_view" not in without["events"]
    assert "no studentVle.csv" in without["notes"]["clickstream"]  # said, not silently missing
