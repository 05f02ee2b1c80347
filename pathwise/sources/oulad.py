"""Open University Learning Analytics Dataset (OULAD) -> contract events and catalog files.

OULAD (Kuzilek, Hlosta, Zdrahal 2017) gives dates as days relative to a presentation's start and
has no titles, levels or skills. The conventions below fill the gaps; each is a stand-in:

- A course is one module-presentation, `oulad:AAA-2013J`. 'B' presentations start on 1 February
  and 'J' presentations on 1 October of their year (the OU starts them early in those months).
  Events happen at 12:00 UTC of their day: the source has days only, and noon keeps the calendar
  date in every time zone from UTC-12 to UTC+11.
- Each assessment closes a module, `oulad:AAA-2013J:A1752`, in date order; an exam without a date
  sits at the presentation's end (its length). A module lasts the days since the previous
  assessment (shared equally by assessments due the same day) at the OU workload of a 60-credit
  module, 16 study hours a week. Its format is the most common format of the VLE sites scheduled
  in its weeks (week w = days 7w..7w+6), else of all the presentation's VLE sites.
- Learners are `oulad:<id_student>`, one learner across presentations. Demographics are left out:
  personal data that nothing downstream needs (ingestion drops `context` anyway). Previous
  attempts and studied credits are kept: study facts, not identifying, and strong dropout signals.
- The assessment's date is its module's `due_day` in the catalog (days after the start).
- Registration -> `enroll` (no registration date: the start, or the unregistration day if
  earlier) with the learner's `attempt` (previous attempts + 1) and `studied_credits` that
  presentation (studentInfo); unregistration -> `course_drop`; submission -> `module_complete` plus, when it has a
  score, `quiz_submit` (attempt 1; banked results too: they count for this presentation); final
  result Pass/Distinction/Fail -> `course_complete` at the presentation's end or the learner's last
  submission if later; Withdrawn without an unregistration date -> `course_drop` at that moment,
  the latest the withdrawal can have happened.
- The clickstream (studentVle: clicks per learner, VLE site and day), when the folder has it ->
  one `material_view` per learner, site and day with its `clicks` (rows repeating the same
  learner, site and day are summed). It is the study activity dropout risk reads most; the full
  release has it (10.6M rows), this project's shared copy does not.
- Difficulty stays empty: OU module levels are not published, and a pass-rate proxy would leak the
  final results (an evaluation target) into the catalog. OULAD has no skills or prerequisites:
  those files hold their header only.

Rows referencing presentations or assessments that courses.csv / assessments.csv do not list are
counted under `skipped`, never fatal. Event ids are built from the source row, so re-imports are
idempotent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from pathwise.catalog import write_catalog
from pathwise.contract import SCHEMA_VERSION
from pathwise.events_io import suffix_for, write_events

KEY = ["code_module", "code_presentation"]
LEARNER = ["course_id", "id_student"]  # one learner's enrolment in one presentation
START_MONTH = {"B": 2, "J": 10}
ISO = "%Y-%m-%dT%H:%M:%SZ"
STUDY_MINUTES_PER_DAY = 16 * 60 / 7
RESULTS = {"Pass": "pass", "Distinction": "distinction", "Fail": "fail"}
# Subject domain of each module, from the dataset paper (table 1); OULAD anonymises the modules.
DOMAINS = {
    "AAA": "Social Sciences",
    "BBB": "Social Sciences",
    "GGG": "Social Sciences",
    "CCC": "STEM",
    "DDD": "STEM",
    "EEE": "STEM",
    "FFF": "STEM",
}
# VLE (Moodle) activity types by the kind of study they ask for; unknown types are not counted.
VLE_FORMATS = {
    "ouelluminate": "video",  # live and recorded online classes
    "oucollaborate": "video",
    "quiz": "hands-on",
    "externalquiz": "hands-on",
    "questionnaire": "hands-on",
    "dataplus": "hands-on",
    "htmlactivity": "hands-on",
    "repeatactivity": "hands-on",
    "ouwiki": "hands-on",
    "forumng": "hands-on",
    "oucontent": "reading",
    "resource": "reading",
    "subpage": "reading",
    "sharedsubpage": "reading",
    "page": "reading",
    "url": "reading",
    "homepage": "reading",
    "glossary": "reading",
    "folder": "reading",
    "dualpane": "reading",
}
# The columns used from each source file (the full release adds none that matter here).
SOURCES: dict[str, dict[str, Any]] = {
    "courses": {
        "code_module": pl.String,
        "code_presentation": pl.String,
        "module_presentation_length": pl.Int64,
    },
    "assessments": {
        "code_module": pl.String,
        "code_presentation": pl.String,
        "id_assessment": pl.Int64,
        "assessment_type": pl.String,
        "date": pl.Int64,
    },
    "vle": {
        "code_module": pl.String,
        "code_presentation": pl.String,
        "activity_type": pl.String,
        "week_from": pl.Int64,
        "week_to": pl.Int64,
    },
    "studentInfo": {
        "code_module": pl.String,
        "code_presentation": pl.String,
        "id_student": pl.Int64,
        "num_of_prev_attempts": pl.Int64,
        "studied_credits": pl.Int64,
        "final_result": pl.String,
    },
    "studentRegistration": {
        "code_module": pl.String,
        "code_presentation": pl.String,
        "id_student": pl.Int64,
        "date_registration": pl.Int64,
        "date_unregistration": pl.Int64,
    },
    "studentAssessment": {
        "id_assessment": pl.Int64,
        "id_student": pl.Int64,
        "date_submitted": pl.Int64,
        "is_banked": pl.Int64,
        "score": pl.Float64,
    },
}
# Read when present: the clickstream is 10.6M rows in the full release, and copies leave it out.
OPTIONAL_SOURCES: dict[str, dict[str, Any]] = {
    "studentVle": {
        "code_module": pl.String,
        "code_presentation": pl.String,
        "id_student": pl.Int64,
        "id_site": pl.Int64,
        "date": pl.Int64,
        "sum_click": pl.Int64,
    },
}


def import_oulad(src: Path, out: Path, fmt: str) -> dict:
    """Import an OULAD folder into `out/events/oulad-*` and `out/catalog/*.csv`; return counts."""
    src, out = Path(src), Path(out)
    raw = {name: _read(src, name, columns) for name, columns in SOURCES.items()}
    for name, columns in OPTIONAL_SOURCES.items():
        if _source_path(src, name):
            raw[name] = _read(src, name, columns)
    courses = _presentations(raw["courses"])
    known, skipped = _in_known_presentations(raw, courses)
    modules = _modules(known["assessments"])
    reg = known["studentRegistration"]
    unregistered = reg.filter(pl.col("date_unregistration").is_not_null())

    subs = raw["studentAssessment"].join(
        modules.select("id_assessment", "course_id", "module_id", "start"), on="id_assessment"
    )
    dated = subs.filter(pl.col("date_submitted").is_not_null())
    scored = dated.filter(pl.col("score").is_not_null())
    skipped["studentAssessment"] = {
        "unknown_assessment": raw["studentAssessment"].height - subs.height,
        "missing_date_submitted": subs.height - dated.height,
        "missing_score": dated.height - scored.height,
    }

    last_submitted = dated.group_by(LEARNER).agg(last=pl.col("date_submitted").max())
    info = known["studentInfo"].join(last_submitted, on=LEARNER, how="left")
    results = info.filter(pl.col("final_result").is_in(list(RESULTS)))
    withdrew = info.filter(pl.col("final_result") == "Withdrawn")
    withdrawn = withdrew.join(unregistered, on=LEARNER, how="anti")
    skipped["studentInfo"]["unknown_final_result"] = info.height - results.height - withdrew.height

    events = {
        "registrations": _registration_events(reg, unregistered, known["studentInfo"]),
        "submissions": _submission_events(dated, scored),
        "results": _result_events(results, withdrawn),
    }
    notes = {
        "enroll_date_assumed": reg["date_registration"].null_count(),
        "drop_date_assumed": withdrawn.height,
        "banked_submissions": int(subs["is_banked"].sum()),
        "submissions_without_registration": dated.join(reg, on=LEARNER, how="anti").height,
        "results_without_registration": results.join(reg, on=LEARNER, how="anti").height,
    }
    if "studentVle" not in known:
        notes["clickstream"] = (
            "no studentVle.csv(.gz) in the folder: no material_view events, so dropout risk reads "
            "registrations and submissions only (the full OULAD release has the file)"
        )
    else:
        views, unusable, notes["clicks_rows_merged"] = _material_views(known["studentVle"])
        notes["clicks_without_registration"] = (
            known["studentVle"].join(reg, on=LEARNER, how="anti").height
        )
        skipped["studentVle"].update(unusable)
        events["clicks"] = [views]
    files, counts = _write_event_files(events, out, fmt)
    catalog = {
        "courses": _course_rows(courses, modules, known["vle"]),
        "modules": _module_rows(modules, known["vle"]),
    }
    return {
        "source_rows": {name: frame.height for name, frame in raw.items()},
        "events": counts,
        "skipped": skipped,
        "notes": notes,
        "catalog": write_catalog(out, catalog),
        "files": files,
    }


def _in_known_presentations(
    raw: dict[str, pl.DataFrame], courses: pl.DataFrame
) -> tuple[dict[str, pl.DataFrame], dict[str, dict[str, int]]]:
    """The rows of each per-presentation file whose presentation is usable, with its course id
    and start; and the skipped counts so far (rows of unusable or unlisted presentations)."""
    skipped = {"courses": {"invalid_presentation": raw["courses"].height - courses.height}}
    known = {}
    for name in ("assessments", "vle", "studentInfo", "studentRegistration", "studentVle"):
        if name not in raw:
            continue
        known[name] = raw[name].join(courses, on=KEY)
        skipped[name] = {"unknown_presentation": raw[name].height - known[name].height}
    return known, skipped


def _registration_events(
    reg: pl.DataFrame, unregistered: pl.DataFrame, info: pl.DataFrame
) -> list[pl.DataFrame]:
    """`enroll` per registration (with the learner's attempt and workload that presentation from
    studentInfo) and `course_drop` per unregistration."""
    # No registration date: the start, or the unregistration day if earlier.
    enroll_day = pl.coalesce("date_registration", pl.min_horizontal(0, "date_unregistration"))
    enrolment = pl.struct(
        attempt=pl.col("num_of_prev_attempts") + 1, studied_credits="studied_credits"
    )
    enrolled = reg.join(
        info.select(*LEARNER, "num_of_prev_attempts", "studied_credits"), on=LEARNER, how="left"
    )
    return [
        _events(enrolled, "enroll", "reg", enroll_day, enrolment),
        _events(unregistered, "course_drop", "drop", pl.col("date_unregistration")),
    ]


def _material_views(clicks: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int], int]:
    """`material_view` per learner, VLE site and day with its clicks; the skipped counts (rows
    without a day or clicks); how many rows were merged into another of the same key."""
    usable = clicks.filter(pl.col("date").is_not_null(), pl.col("sum_click") > 0)
    views = usable.group_by(*LEARNER, "id_site", "date", "start").agg(
        clicks=pl.col("sum_click").sum()
    )
    skipped = {"missing_date_or_clicks": clicks.height - usable.height}
    view = pl.struct(material_id=pl.format("vle:{}", "id_site"), clicks="clicks")
    key = pl.format("{}:S{}:D{}", "course_id", "id_site", "date")
    return (
        _events(views, "material_view", "view", pl.col("date"), view, key=key),
        skipped,
        usable.height - views.height,
    )


def _submission_events(dated: pl.DataFrame, scored: pl.DataFrame) -> list[pl.DataFrame]:
    """`quiz_submit` per scored submission and `module_complete` per dated one."""
    quiz = pl.struct(
        quiz_id=pl.col("id_assessment").cast(pl.String),
        score=(pl.col("score") / 100).clip(0, 1),
        attempt=pl.lit(1),
    )
    submitted = pl.col("date_submitted")
    return [
        _events(scored, "quiz_submit", "quiz", submitted, quiz, per_module=True),
        _events(dated, "module_complete", "module", submitted, per_module=True),
    ]


def _result_events(results: pl.DataFrame, withdrawn: pl.DataFrame) -> list[pl.DataFrame]:
    """`course_complete` per final result and `course_drop` per withdrawal without a date, both
    at the presentation's end or the learner's last submission if later."""
    end_day = pl.max_horizontal("length", "last")
    result = pl.struct(result=pl.col("final_result").replace_strict(RESULTS))
    return [
        _events(results, "course_complete", "result", end_day, result),
        _events(withdrawn, "course_drop", "drop", end_day),
    ]


def _write_event_files(
    events: dict[str, list[pl.DataFrame]], out: Path, fmt: str
) -> tuple[list[str], dict[str, int]]:
    """One file per group of events (`out/events/oulad-<group>`), in time order; returns the
    paths and the events written per type."""
    files: list[str] = []
    counts: dict[str, int] = {}
    for kind, frames in events.items():
        frame = pl.concat(frames).sort("occurred_at", "event_id")
        path = out / "events" / f"oulad-{kind}{suffix_for(fmt)}"
        files.append(str(write_events(frame, path, fmt)))
        for event_type, n in frame["event_type"].value_counts().iter_rows():
            counts[event_type] = counts.get(event_type, 0) + n
    return files, dict(sorted(counts.items()))


def _source_path(src: Path, name: str) -> Path | None:
    return next((p for p in (src / f"{name}.csv", src / f"{name}.csv.gz") if p.exists()), None)


def _read(src: Path, name: str, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    path = _source_path(src, name)
    if path is None:
        raise FileNotFoundError(f"{name}.csv(.gz) not found in {src}")
    # The original release writes missing values as '?', this copy as empty fields.
    return pl.read_csv(path, columns=list(columns), schema_overrides=columns, null_values=["", "?"])


def _presentations(courses: pl.DataFrame) -> pl.DataFrame:
    """Usable presentations with their course id, start (12:00 UTC) and length in days."""
    code = pl.col("code_presentation")
    return courses.filter(
        code.str.contains(r"^\d{4}[BJ]$"), pl.col("module_presentation_length").is_not_null()
    ).select(
        *KEY,
        course_id=pl.format("oulad:{}-{}", *KEY),
        start=pl.datetime(
            code.str.slice(0, 4).cast(pl.Int32),
            code.str.slice(4).replace_strict(START_MONTH, return_dtype=pl.Int8),
            1,
            12,
        ),
        length="module_presentation_length",
    )


def _modules(assessments: pl.DataFrame) -> pl.DataFrame:
    """One module per assessment, in date order, with its study window (prev, day]."""
    dated = assessments.with_columns(day=pl.coalesce("date", "length"))
    due_days = (
        dated.group_by("course_id", "day")
        .agg(due=pl.len())
        .sort("course_id", "day")
        .with_columns(prev=pl.col("day").shift(1, fill_value=0).over("course_id"))
    )
    return (
        dated.join(due_days, on=["course_id", "day"])
        .sort("course_id", "day", "id_assessment")
        .with_columns(
            module_id=pl.format("{}:A{}", "course_id", "id_assessment"),
            position=pl.int_range(1, pl.len() + 1).over("course_id"),
            title=pl.format(
                "{} {}",
                "assessment_type",
                pl.int_range(1, pl.len() + 1).over("course_id", "assessment_type"),
            ),
            duration_minutes=(
                (pl.col("day") - pl.col("prev")).clip(0) / pl.col("due") * STUDY_MINUTES_PER_DAY
            )
            .round()
            .cast(pl.Int64),
        )
    )


def _vle_formats(vle: pl.DataFrame) -> pl.DataFrame:
    return vle.with_columns(
        format=pl.col("activity_type").replace_strict(VLE_FORMATS, default=None)
    ).filter(pl.col("format").is_not_null())


def _most_common_format(sites: pl.DataFrame, key: str) -> pl.DataFrame:
    return (
        sites.group_by(key, "format")
        .agg(n=pl.len())
        .sort(key, "n", "format", descending=[False, True, False])
        .group_by(key, maintain_order=True)
        .first()
        .select(key, "format")
    )


def _course_rows(courses: pl.DataFrame, modules: pl.DataFrame, vle: pl.DataFrame) -> pl.DataFrame:
    assessed = modules.group_by("course_id").agg(assessments=pl.len())
    return (
        courses.join(
            _most_common_format(_vle_formats(vle), "course_id"), on="course_id", how="left"
        )
        .join(assessed, on="course_id", how="left")
        .select(
            "course_id",
            title=pl.format("OU module {} ({})", *KEY),
            description=pl.format(
                "Open University module {}, {} presentation: {} days, {} assessments.",
                *KEY,
                "length",
                pl.col("assessments").fill_null(0),
            ),
            category=pl.col("code_module").replace_strict(DOMAINS, default=None),
            difficulty=pl.lit(None, pl.Int64),
            instructor_id=pl.lit(None, pl.String),
            language=pl.lit("en"),
            primary_format="format",
        )
        .sort("course_id")
    )


def _module_rows(modules: pl.DataFrame, vle: pl.DataFrame) -> pl.DataFrame:
    sites = _vle_formats(vle)
    in_window = (
        sites.filter(pl.col("week_from").is_not_null())
        .join(modules.select("course_id", "module_id", "prev", "day"), on="course_id")
        .filter(
            pl.col("week_from") * 7 <= pl.col("day"),
            (pl.col("week_to").fill_null(pl.col("week_from")) + 1) * 7 > pl.col("prev"),
        )
    )
    return (
        modules.join(_most_common_format(in_window, "module_id"), on="module_id", how="left")
        .join(
            _most_common_format(sites, "course_id").rename({"format": "course_format"}),
            on="course_id",
            how="left",
        )
        .select(
            "course_id",
            "module_id",
            "position",
            "title",
            "duration_minutes",
            pl.coalesce("format", "course_format").alias("format"),
            due_day="day",
        )
        .sort("course_id", "position")
    )


def _events(
    rows: pl.DataFrame,
    event_type: str,
    kind: str,
    day: pl.Expr,
    properties: pl.Expr | None = None,
    *,
    per_module: bool = False,
    key: pl.Expr | None = None,
) -> pl.DataFrame:
    """Contract envelope for `rows` (course_id, [module_id], id_student, start); day = offset.
    The event id is the kind, `key` (default: the module or course id) and the learner."""
    if key is None:
        key = pl.col("module_id" if per_module else "course_id")
    return rows.select(
        event_id=pl.format(f"oulad:{kind}:{{}}:{{}}", key.str.strip_prefix("oulad:"), "id_student"),
        event_type=pl.lit(event_type),
        occurred_at=(pl.col("start") + pl.duration(days=day)).dt.strftime(ISO),
        user_id=pl.format("oulad:{}", "id_student"),
        session_id=pl.lit(None, pl.String),
        course_id="course_id",
        module_id=pl.col("module_id") if per_module else pl.lit(None, pl.String),
        schema_version=pl.lit(SCHEMA_VERSION, pl.Int32),
        properties=pl.lit("{}") if properties is None else properties.struct.json_encode(),
        context=pl.lit(None, pl.String),
    )
