"""Bad input: the faults a real platform's files carry, injected into the simulated days.

`bad_share` of each day's events, split evenly over FAULT_KINDS, one fault per row, only ever
on essential-tier events (so the expected outcome never depends on consent). Each fault is a
row of truth/faults.parquet: file (relative to `out`), line_no (1-based line in NDJSON, row in
Parquet), kind, event_id (as the row carries it; null when the fault removed it), field and
detail. Kinds named after a `pathwise.contract.REASONS` key must be quarantined with that
reason. `duplicate_exact` copies must be de-duplicated (loaded once). `pii_text` events are
valid: they must be loaded, with the e-mail address and phone number listed in `detail`
redacted. Duplicates are appended at the end of a file, as a retrying client re-sends, and copy
a row of the same file or of the previous day's file (`detail` names it). oversized and
pii_text need free-text events (~1% of events), so a large bad_share can leave them short.

Work on the day's clean frame is vectorized; only the few faulty rows are edited one by one.
What a typed frame cannot hold (a cut-off line, an absent key, a number where a string
belongs) is edited into the NDJSON line as it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from pathwise import events_io
from pathwise.contract import EVENT_TYPES, FINE_EVENT_TYPES, REQUIRED_ENVELOPE, SCHEMA_VERSION
from pathwise.sources.simulator.learners import FIRST_NAMES, LAST_NAMES, MAIL_DOMAINS

EDIT_KINDS = (  # faults edited into an existing row
    "malformed_json",
    "missing_field",
    "missing_property",
    "wrong_type",
    "unknown_event_type",
    "future_timestamp",
    "oversized",
    "pii_text",
)
DUPLICATE_KINDS = ("duplicate_exact", "duplicate_conflict")  # faults appended as extra rows
FAULT_KINDS = EDIT_KINDS + DUPLICATE_KINDS
FAULT_SCHEMA = {
    "file": pl.String,  # relative to `out`
    "line_no": pl.Int64,  # 1-based line (NDJSON) or row (Parquet)
    "kind": pl.String,
    "event_id": pl.String,  # as the row carries it: null when the fault removed it
    "field": pl.String,  # what was broken: an envelope field or properties.<name>
    "detail": pl.String,  # pii_text: '<email>; <phone>'; duplicates: 'copy of <file>:<line>'
}
UNKNOWN_EVENT_TYPES = ("page_scroll", "video_speed_change", "cart_add", "lesson_bookmark")
WRONG_VALUES = {"string": 42, "number": "high", "integer": "first", "boolean": "yes"}
PHONE_FORMATS = ("+1 415-555-{:04d}", "+44 20 7946 {:04d}", "(030) 555 {:04d}", "+91 98765 4{:04d}")
LOG_LINE = "ERROR worker-3 Traceback (most recent call last): File 'lab.py', line 42, in <module> ValueError: could not convert string to float\n"


@dataclass
class Faulty:
    """A day file's rows after fault injection."""

    rows: pl.DataFrame  # the rows with faults edited in, then the appended duplicates
    line_edits: list[tuple]  # (row, edit, argument): made on the NDJSON line, see _edit_line
    faults: list[tuple]  # FAULT_SCHEMA rows

    def ndjson_lines(self) -> pl.Series:
        """The rows as NDJSON lines, with the line edits made."""
        with duckdb.connect() as con:
            con.register("frame", self.rows)
            lines = con.sql(events_io.json_lines_sql("frame")).pl()["line"]
        edits = self.line_edits
        return lines.scatter(
            [i for i, *_ in edits], [_edit_line(lines[i], edit, arg) for i, edit, arg in edits]
        )


def inject_faults(
    rng: np.random.Generator,
    clean: pl.DataFrame,
    previous: pl.DataFrame | None,
    fmt: str,
    share: float,
    file: str,
) -> tuple[Faulty, pl.DataFrame]:
    """Turn `share` of the rows into bad input, evenly over FAULT_KINDS.

    `previous` holds the previous file's untouched rows (with `file`, `line_no`): the sources of
    cross-file duplicates. Returns the faulty rows and this file's untouched rows.
    """
    n = clean.height
    total = round(share * n)
    counts = np.full(len(FAULT_KINDS), total // len(FAULT_KINDS))
    counts[rng.permutation(len(FAULT_KINDS))[: total % len(FAULT_KINDS)]] += 1
    quota: dict[str, int] = dict(zip(FAULT_KINDS, counts.tolist(), strict=True))

    pools = _pools(clean, fmt)
    order = rng.permutation(n)
    used = clean["event_type"].is_in(FINE_EVENT_TYPES).to_numpy()  # only essential events

    def take(kind: str, k: int) -> np.ndarray:
        pool = pools.get(kind, np.ones(n, bool)) & ~used
        picked = order[pool[order]][:k]
        used[picked] = True
        return picked

    edited_rows: list[dict] = []
    edits: list[tuple] = []
    faults: list[tuple] = []
    for kind in EDIT_KINDS:
        idx = take(kind, quota[kind])
        for i, row in zip(idx.tolist(), clean[idx].iter_rows(named=True), strict=True):
            field, detail, edit = _corrupt(rng, row, kind, fmt)
            edited_rows.append({"_row": i, **row})
            if edit:
                edits.append((i, *edit))
            faults.append((file, i + 1, kind, row["event_id"], field, detail))

    # Duplicates: half copy rows of this file, half rows of the previous one (late re-sends).
    here = clean.with_columns(file=pl.lit(file), line_no=pl.int_range(1, n + 1, dtype=pl.Int64))
    # Another event's properties for a conflicting duplicate: from this file, or the previous one
    # for a re-sent row of a type this file does not have (nudge clicks come and go by day).
    donors = {t: g["properties"] for (t,), g in clean.group_by("event_type")}
    if previous is not None:
        for (t,), g in previous.group_by("event_type"):
            donors.setdefault(t, g["properties"])
    extra: list[dict] = []
    for kind in DUPLICATE_KINDS:
        from_previous = quota[kind] // 2 if previous is not None else 0
        sources = [here[take(kind, quota[kind] - from_previous)]]
        if from_previous and previous is not None:
            candidates = (
                previous
                if kind == "duplicate_exact"
                else previous.filter(pl.col("properties") != "{}")
            )
            sources.append(candidates[rng.permutation(candidates.height)[:from_previous]])
        for row in pl.concat(sources).iter_rows(named=True):
            field, detail = None, f"copy of {row['file']}:{row['line_no']}"
            if kind == "duplicate_conflict":  # the same id with another event's properties
                field, row["properties"] = (
                    "properties",
                    _other(rng, donors[row["event_type"]], row["properties"]),
                )
                if row["properties"] is None:
                    continue
            faults.append((file, n + len(extra) + 1, kind, row["event_id"], field, detail))
            extra.append({c: row[c] for c in clean.columns})

    rows = clean
    if edited_rows:
        edited = pl.DataFrame(edited_rows, schema={"_row": pl.UInt32, **clean.schema})
        rest = clean.with_row_index("_row").filter(~pl.col("_row").is_in(edited["_row"].implode()))
        rows = pl.concat([rest, edited]).sort("_row").drop("_row")
    if extra:
        rows = pl.concat([rows, pl.DataFrame(extra, schema=clean.schema)])
    return Faulty(rows, edits, faults), here.filter(~pl.Series(used))


def _pools(clean: pl.DataFrame, fmt: str) -> dict[str, np.ndarray]:
    """The rows each fault kind can apply to, for the kinds that need particular rows."""
    n = clean.height
    with_required = (
        clean["event_type"]
        .is_in([e for e, t in EVENT_TYPES.items() if any(p.required for p in t.props)])
        .to_numpy()
    )
    free_text = clean["properties"].str.contains('"(text|comment|reason)":').to_numpy()
    return {
        "missing_property": with_required,
        "wrong_type": with_required if fmt == "parquet" else np.ones(n, bool),
        "oversized": free_text,
        "pii_text": free_text,
        "duplicate_conflict": (clean["properties"] != "{}").to_numpy(),
    }


def _other(rng: np.random.Generator, values: pl.Series, value: str) -> str | None:
    """A random one of `values` that differs from `value` (None if none is found quickly)."""
    for i in rng.integers(0, values.len(), 8):
        if values[int(i)] != value:
            return values[int(i)]
    return None


def _corrupt(rng: np.random.Generator, row: dict, kind: str, fmt: str) -> tuple:
    """Edit one row (envelope values) into a fault of `kind`, in place.

    Returns (field, detail, line edit). Line edits are for NDJSON: what a typed frame cannot
    hold (a cut-off line, an absent key, a number where a string belongs) is done on the line.
    """
    props = json.loads(row["properties"])
    required = [p for p in EVENT_TYPES[row["event_type"]].props if p.required]
    field = detail = None
    edit: tuple | None = None
    if kind == "malformed_json" and fmt == "parquet":
        field = "properties"
        row["properties"] = row["properties"][: rng.integers(1, len(row["properties"]))]
        return field, detail, edit
    if kind == "malformed_json":
        edit = ("truncate", rng.uniform(0.2, 0.9))
    elif kind == "missing_field":
        field = REQUIRED_ENVELOPE[rng.integers(len(REQUIRED_ENVELOPE))]
        row[field] = None
        edit = ("drop_key", field)
    elif kind == "missing_property":
        field = required[rng.integers(len(required))].name
        del props[field]
    elif kind == "wrong_type" and (not required or (fmt == "ndjson" and rng.random() < 0.5)):
        field = ("occurred_at", "schema_version")[rng.integers(2)]
        edit = ("retype", field)
    elif kind == "wrong_type":
        prop = required[rng.integers(len(required))]
        field = f"properties.{prop.name}"
        props[prop.name] = WRONG_VALUES[prop.type]
    elif kind == "unknown_event_type":
        field = "event_type"
        row[field] = UNKNOWN_EVENT_TYPES[rng.integers(len(UNKNOWN_EVENT_TYPES))]
    elif kind == "future_timestamp":
        # Whole leap cycles ahead, so that 29 February stays a valid date.
        field, stamp = "occurred_at", row["occurred_at"]
        row[field] = f"{int(stamp[:4]) + 4 * int(rng.integers(1, 3))}{stamp[4:]}"
    else:  # oversized, pii_text: in the free text
        name = next(f for f in ("text", "comment", "reason") if f in props)
        field = f"properties.{name}"
        if kind == "oversized":
            props[name] += "\nHere is my full log:\n" + LOG_LINE * int(rng.integers(130, 300))
        else:
            person = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}"
            email = f"{person}@{rng.choice(MAIL_DOMAINS)}"
            phone = rng.choice(PHONE_FORMATS).format(rng.integers(10_000))
            props[name] += f" Contact me at {email} or call {phone}."
            detail = f"{email}; {phone}"
    row["properties"] = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
    return field, detail, edit


def _edit_line(line: str, edit: str, arg) -> str:
    if edit == "truncate":
        return line[: int(len(line) * arg)]
    if edit == "drop_key":  # the frame held null; the line loses the key altogether
        return line.replace(f'"{arg}":null,', "", 1)
    if arg == "schema_version":
        return line.replace(
            f'"schema_version":{SCHEMA_VERSION}', f'"schema_version":"{SCHEMA_VERSION}"', 1
        )
    stamp = re.search(r'"occurred_at":"([^"]+)"', line)
    assert stamp is not None, "every simulated line has an occurred_at"
    return line.replace(
        stamp[0], f'"occurred_at":{int(dt.datetime.fromisoformat(stamp[1]).timestamp())}', 1
    )
