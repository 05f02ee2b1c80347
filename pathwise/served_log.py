"""The one recommendation log: every surface that shows a learner recommendations writes the list
here, and the nightly flow loads it into `raw.served_recommendations` (one row per item) and
`raw.served_recommendation_signals` (one row per item and signal: its contribution and weight).

    record = served_list(learner_key=..., served_via="api", caller=Caller.of_api_key(key), ...)
    write([record])                         # the learner page: one small append
    BackgroundWriter().write(record)        # the read API: appended off the request path

A record is one shown list: its id, learner_key, where it was shown (`served_via`: the read API or
the learner page; `surface`: the contract's place on the platform), the authenticated caller (an
API key's name, id and role, or an app account's username and role: never a platform user id),
the snapshot and model version, the blend weights the scores were made with, the admin controls
applied and, per item, course, rank, score, boost, reason, format and each signal's contribution.
`served_list` refuses a record without them, so no surface can log less. Surfaces do not write the
log folder any other way (tests/test_rec_log.py checks the code).

Not logged: the Control Tower's preview. It shows an admin what a sample of learners' lists would
become under a draft control (course ids, before and after); no learner sees those lists, and
logging them as served would credit the draft to the learners' impressions in the KPI attribution.

The writer appends each list to an hourly file (`$PATHWISE_HOME/rec_log/served-YYYY-MM-DD-HH.ndjson`,
one O_APPEND write per batch, so the API and the app can share a file). A file is loaded once its
hour is over (nobody appends to it any more) and never twice (`raw.served_log_files`). Its rows carry
the `rec_id` the platform echoes back in `rec_impression` and `rec_click` events, so the KPI marts
can join what was served with what learners did. The log holds learner_keys only: the API
pseudonymizes platform ids before logging, the app knows learners only by learner_key.

With PATHWISE_WAREHOUSE_KEY set, each append is one sealed record (AES-GCM, pathwise/at_rest.py)
instead of plain lines; the loader decrypts a file in memory (nothing plain touches the disk) and
reads it exactly as a plain one. Files are 0600 in a 0700 folder.
"""

from __future__ import annotations

import functools
import math
import operator
import queue
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import fsspec
import orjson

from pathwise.at_rest import SEALED, open_private_append, private_dir, unseal
from pathwise.at_rest import seal as seal_record
from pathwise.contract import SURFACES
from pathwise.privacy import KEY_HEX_DIGITS
from pathwise.settings import get_settings

# Where a list was shown: a closed list (anything else reaches the warehouse as 'other').
SERVED_VIA = ("api", "learner_app")
CALLER_KINDS = ("api_key", "app_account")
# The weights a snapshot's scores were blended with (ml/recommender/nightly.py: signals_table).
WEIGHTS_SQL = "select signal, weight from recommendation_signals"
ITEM_FIELDS = ("course_id", "rank", "score", "boost", "reason", "format_first")
LEARNER_KEY_RE = re.compile(rf"[0-9a-f]{{{KEY_HEX_DIGITS}}}")
SIGNAL_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")

RESPONSE_COLUMNS = {
    "response_id": "VARCHAR",
    "served_at": "TIMESTAMPTZ",
    "learner_key": "VARCHAR",
    "served_via": "VARCHAR",
    "surface": "VARCHAR",
    "caller": "STRUCT(kind VARCHAR, name VARCHAR, role VARCHAR, key_id VARCHAR)",
    "cold_start": "BOOLEAN",
    "snapshot_version": "VARCHAR",
    "model_version": "VARCHAR",
    "weights": "MAP(VARCHAR, DOUBLE)",
    "controls_applied": "INTEGER[]",
    "items": "STRUCT(rec_id VARCHAR, course_id VARCHAR, rank INTEGER, score DOUBLE, "
    "boost DOUBLE, reason VARCHAR, format_first VARCHAR, contributions MAP(VARCHAR, DOUBLE))[]",
}


class RecLogError(ValueError):
    """A list the log cannot keep as it is; the message says what is missing."""


class _Key(Protocol):  # pathwise.api_keys.ApiKey
    key_id: str
    name: str
    role: str


class _Account(Protocol):  # pathwise.accounts.User
    username: str
    role: str


@dataclass(frozen=True)
class Caller:
    """Who was shown or asked for a list: an API key or an app account, never a platform id."""

    kind: str  # CALLER_KINDS
    name: str  # the key's name, or the account's username
    role: str
    key_id: str | None = None  # API keys: the key's id (names need not be unique)

    @classmethod
    def of_api_key(cls, key: _Key) -> Caller:
        return cls("api_key", key.name, key.role, key.key_id)

    @classmethod
    def of_account(cls, user: _Account) -> Caller:
        return cls("app_account", user.username, user.role)


def contributions(row: Mapping[str, Any]) -> dict[str, Any]:
    """Each signal's contribution to a recommendation row's score (its contrib_<signal> columns)."""
    return {k.removeprefix("contrib_"): v for k, v in row.items() if k.startswith("contrib_")}


def _number(value: Any, what: str) -> float | None:
    if type(value) is float:  # the common case, first
        return None if math.isnan(value) else value
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RecLogError(f"{what} must be a number, got {value!r}") from None


@functools.cache
def _signal_name(name: str) -> bool:  # a handful of names, checked once each
    return bool(SIGNAL_RE.fullmatch(name))


def _signals(values: Mapping[str, Any], what: str) -> dict[str, float | None]:
    for name in values:
        if not (isinstance(name, str) and _signal_name(name)):
            raise RecLogError(f"{what}: {name!r} is not a signal name (lowercase, digits, _)")
    return {name: _number(v, what) for name, v in values.items()}


def _item(response_id: str, item: Mapping[str, Any]) -> dict:
    if "contributions" not in item:
        raise RecLogError(
            f"item {item.get('course_id')!r} has no `contributions`: pass each signal's "
            "contribution ({signal: value}, from the contrib_<signal> columns)"
        )
    out: dict[str, Any] = {f: item.get(f) for f in ITEM_FIELDS}
    try:
        out["rank"] = operator.index(out["rank"])
    except TypeError:
        out["rank"] = 0
    if not out["course_id"] or out["rank"] < 1:
        raise RecLogError(
            f"an item needs a course_id and an integer rank >= 1, got {out['course_id']!r} "
            f"at rank {item.get('rank')!r}"
        )
    for text in ("reason", "format_first"):  # a missing value (None, NaN) is null
        out[text] = out[text] if isinstance(out[text], str) else None
    out["score"] = _number(out["score"], "score")
    out["boost"] = _number(out["boost"], "boost")
    out["contributions"] = _signals(item["contributions"], "contributions")
    return {"rec_id": f"{response_id}-{out['rank']}", **out}


def served_list(
    *,
    learner_key: str,
    served_via: str,
    caller: Caller,
    snapshot_version: str,
    model_version: str | None,
    weights: Mapping[str, float],
    items: Iterable[Mapping[str, Any]],
    surface: str = "home",
    cold_start: bool = False,
    controls_applied: Sequence[int] = (),
    response_id: str | None = None,
    served_at: datetime | None = None,
) -> dict:
    """One shown list as the log keeps it (items need course_id, rank, contributions; score,
    boost, reason, format_first as shown). Refuses what would leave the log incomplete or hold a
    platform id; `rec_id`s are '<response_id>-<rank>'."""
    if not LEARNER_KEY_RE.fullmatch(learner_key or ""):
        raise RecLogError(
            f"learner_key must be {KEY_HEX_DIGITS} hex digits: pseudonymize platform ids first"
        )
    if served_via not in SERVED_VIA:
        raise RecLogError(f"served_via must be one of {', '.join(SERVED_VIA)}, not {served_via!r}")
    if surface not in SURFACES:
        raise RecLogError(f"surface must be one of {', '.join(SURFACES)}, not {surface!r}")
    if caller.kind not in CALLER_KINDS or not caller.name or not caller.role:
        raise RecLogError(f"the caller needs a kind ({', '.join(CALLER_KINDS)}), name and role")
    if served_at is not None and served_at.tzinfo is None:
        raise RecLogError("served_at must be timezone-aware (UTC): datetime.now(UTC)")
    response_id = response_id or uuid.uuid4().hex
    at = (served_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "response_id": response_id,
        "served_at": at.isoformat(),
        "learner_key": learner_key,
        "served_via": served_via,
        "surface": surface,
        "caller": dict(vars(caller)),  # kind, name, role, key_id (asdict is 10x slower)
        "cold_start": bool(cold_start),
        "snapshot_version": snapshot_version,
        "model_version": model_version,
        "weights": _signals(weights, "weights"),
        "controls_applied": [int(c) for c in controls_applied],
        "items": [_item(response_id, i) for i in items],
    }


def write(records: Sequence[dict], folder: Path | None = None) -> None:
    """Append lists made by `served_list` to their hour's file: the one way to write the log."""
    folder = private_dir(folder or get_settings().rec_log_dir)
    by_file: dict[Path, list[bytes]] = {}
    for record in records:  # served_at is UTC ISO 8601: '2026-02-06T09:...' -> hour file 09
        name = f"served-{record['served_at'][:13].replace('T', '-')}.ndjson"
        by_file.setdefault(folder / name, []).append(orjson.dumps(record))
    for path, lines in by_file.items():
        append(path, lines)


class BackgroundWriter:
    """`write` off the request path: a thread appends the queued lists in batches (the read API).
    `close` writes what is queued, then stops."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = private_dir(folder or get_settings().rec_log_dir)
        self._queue: queue.SimpleQueue[dict | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rec-log", daemon=True)
        self._thread.start()

    def write(self, record: dict) -> None:
        self._queue.put(record)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get())
            done = None in batch
            write([r for r in batch if r is not None], self.folder)


def append(path: Path, lines: Sequence[bytes]) -> None:
    """Append JSON lines to one log file in one write (one sealed record when a key is set)."""
    data = seal_record(b"\n".join(lines), "rec_log") + b"\n"
    with open_private_append(path) as f:
        # One write(2) of the whole batch (unbuffered): O_APPEND keeps it whole beside the other
        # process writing the same hour's file (the read API and the app).
        written = f.raw.write(data)
    if written != len(data):
        raise OSError(f"short write to {path}: {written} of {len(data)} bytes (disk full?)")


def read_lines(path: Path) -> bytes:
    """A log file's JSON lines, decrypted (plain lines, written without a key, pass as they are)."""
    return b"\n".join(unseal(line, "rec_log") for line in path.read_bytes().splitlines() if line)


@contextmanager
def _readable(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[str]:
    """A path `read_json` can read: the file itself if plain, else its plaintext in memory."""
    with path.open("rb") as f:
        plain = not f.read(len(SEALED)).startswith(SEALED)
    if plain and not get_settings().encrypted:
        yield str(path)
        return
    memory = fsspec.filesystem("memory")
    if not con.filesystem_is_registered("memory"):
        con.register_filesystem(memory)
    name = f"memory://pathwise-rec-log/{uuid.uuid4().hex}.ndjson"
    memory.pipe(name, read_lines(path) + b"\n")
    try:
        yield name
    finally:
        memory.rm(name)


def closed_files(folder: Path, now: datetime | None = None) -> list[Path]:
    """Log files whose hour has ended."""
    hour = (now or datetime.now(UTC)).strftime("served-%Y-%m-%d-%H.ndjson")
    return sorted(p for p in folder.glob("served-*.ndjson") if p.name < hour)


def load_closed_files(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> dict:
    """Load every closed, not yet loaded log file; each file in one transaction."""
    loaded = {
        r[0] for r in con.execute("select file_name from warehouse.raw.served_log_files").fetchall()
    }
    summary = {"files": 0, "responses": 0, "items": 0}
    columns = ", ".join(f"'{k}': '{v}'" for k, v in RESPONSE_COLUMNS.items())
    for path in closed_files(get_settings().rec_log_dir, now):
        if path.name in loaded:
            continue
        con.execute("begin")
        try:
            with _readable(con, path) as readable:
                con.execute(
                    f"""
                    create or replace temp table _served as
                    select * from read_json($path, format = 'newline_delimited',
                                            columns = {{{columns}}})
                    """,
                    {"path": readable},
                )
            _insert_items(con, path.name)
            responses, items = con.execute(
                "select count(*), coalesce(sum(len(items)), 0) from _served"
            ).fetchall()[0]
            con.execute(
                "insert into warehouse.raw.served_log_files values (?, ?, ?, ?)",
                [path.name, responses, items, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        summary["files"] += 1
        summary["responses"] += responses
        summary["items"] += items
    return summary


def _insert_items(con: duckdb.DuckDBPyConnection, file_name: str) -> None:
    """The loaded file's items (temp table `_served`) into the served tables. Lists logged before
    the one writer (no `served_via`, caller, weights or contributions) came from the read API."""
    con.execute(
        """
        insert or ignore into warehouse.raw.served_recommendations (
            rec_id, response_id, served_at, learner_key, surface, cold_start, snapshot_version,
            model_version, controls_applied, course_id, rank, score, boost, reason, format_first,
            source_file, served_via, caller_kind, caller_name, caller_role, caller_key_id
        )
        select item.rec_id, response_id, timezone('UTC', served_at), learner_key,
               -- closed lists: free text never reaches the warehouse through them
               if(list_contains($surfaces, surface), surface, 'other'), cold_start,
               snapshot_version, model_version, controls_applied, item.course_id,
               item.rank, item.score, item.boost, item.reason, item.format_first, $name,
               case when served_via is null then 'api'
                    when list_contains($served_via, served_via) then served_via
                    else 'other' end,
               caller.kind, caller.name, caller.role, caller.key_id
        from (select *, unnest(items) as item from _served)
        """,
        {"name": file_name, "surfaces": list(SURFACES), "served_via": list(SERVED_VIA)},
    )
    con.execute(
        """
        insert or ignore into warehouse.raw.served_recommendation_signals
        select rec_id, signal, response_id, timezone('UTC', served_at), learner_key,
               contributions[signal], weights[signal], $name
        from (
            select item.rec_id, response_id, served_at, learner_key, weights,
                   item.contributions,
                   unnest(list_distinct(list_concat(
                       coalesce(map_keys(weights), []),
                       coalesce(map_keys(item.contributions), [])
                   ))) as signal
            from (select *, unnest(items) as item from _served)
        )
        """,
        {"name": file_name},
    )
