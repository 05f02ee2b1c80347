"""Loading one file of platform events into the warehouse as one atomic batch.

The steps, all vectorized in DuckDB (an in-memory database holds the batch while it is checked):

1. read    NDJSON(.gz) line by line (so one bad line cannot sink the file) or Parquet row by row,
           into an *envelope*: each field, its JSON type, the row's size, parse errors.
2. check   the contract (`pathwise.validation`): the first failing check quarantines the event.
3. key     user_id -> learner_key (HMAC-SHA256); the mapping goes to the identity vault only.
4. dedup   on event_id within the batch and against earlier batches (PATHWISE_DEDUP_WINDOW_DAYS):
           same payload = duplicate (counted, dropped); other payload = quarantined conflict.
5. consent fine-tier events count only under a `fine` grant in force at their time; the rest are
           counted as consent_dropped and never stored. Kept ones are aggregated per
           learner x course x day; their raw trail never lands.
6. write   the vault first (idempotent upserts: identities, quarantined originals), then every
           warehouse table in ONE transaction, including the `raw.ingest_batches` row whose
           check constraint enforces received = loaded + duplicates + quarantined + consent_dropped.

A batch is identified by the sha256 of the file's bytes: a file already loaded is skipped, and a
batch interrupted at any point (even by SIGKILL) left nothing in the warehouse, so re-running it
loads it exactly once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pathwise.contract import ENVELOPE, FINE_EVENT_TYPES, FREE_TEXT_TYPES, SCHEMA_VERSION
from pathwise.privacy import install_pseudonym_key, sql_pseudonym, sql_redact
from pathwise.settings import Settings, get_settings
from pathwise.validation import (
    envelope_problem_sql,
    event_type_enum,
    property_problems_sql,
    sql_list,
    sql_literal,
)
from pathwise.warehouse import open_connection

REDACTED_PAYLOAD_CHARS = 2000  # the warehouse's quarantine copy is for diagnosis, not recovery
MAX_LINE_BYTES = 64 * 1024 * 1024  # longer lines fail the read with a clear error
_SCALARS = [f for f in ENVELOPE if f not in ("properties", "context")]


@dataclass
class BatchResult:
    batch_id: str
    source_file: str
    source_format: str
    status: str  # loaded | skipped (this file's bytes were loaded before)
    received: int = 0
    loaded: int = 0
    aggregated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    consent_dropped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step, for profiling

    def as_dict(self) -> dict:
        return asdict(self)


class Laps:
    """A lap timer: `lap("name")` ends the running step and starts the next one; `lap(None)` ends
    the last. The seconds land in `steps` (a batch's `BatchResult.steps`)."""

    def __init__(self, steps: dict[str, float]) -> None:
        self.steps = steps
        self._name: str | None = None
        self._since = time.perf_counter()

    def __call__(self, name: str | None) -> None:
        now = time.perf_counter()
        if self._name is not None:
            self.steps[self._name] = round(self.steps.get(self._name, 0.0) + now - self._since, 3)
        self._name, self._since = name, now


def event_format(path: Path) -> str | None:
    """'parquet', 'ndjson' or None (not an event file), from the file name."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
        return "ndjson"
    return None


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ------------------------------------------------------------------ 1. read into an envelope


@dataclass
class Envelope:
    """The SQL of a file's envelope relation, and the json_type of each field the file's own
    schema fixes (Parquet columns; NDJSON fixes none), so checks they cannot fail are skipped."""

    sql: str
    column_types: dict[str, str] = field(default_factory=dict)

    def tags(self, *fields: str) -> str:
        """SELECT items: the `<field>_t` type tags the file does not fix (fixed ones are not
        stored: three string columns of ten million rows cost more than the checks they feed)."""
        return "".join(f", {f}_t" for f in fields if f not in self.column_types)

    def text(self, f: str, column: str | None = None) -> str:
        """SQL: field `f` of a `checked` row `c` (in `column`, default `f`) if its value is a
        JSON string, else NULL."""
        value, kind = f"c.{column or f}", self.column_types.get(f)
        if kind is None:
            return f"if(c.{f}_t = 'VARCHAR', {value}, null)"
        return value if kind == "VARCHAR" else "null::varchar"


def _starts_object(col: str) -> str:
    """SQL: the text in `col` starts with '{' after any whitespace. trim() copies every string, so
    it runs only for the few values that do not start with '{' right away (an OR's second
    operand is evaluated only where the first is false)."""
    return f"(starts_with({col}, '{{') or starts_with(ltrim({col}), '{{'))"


def _ndjson_envelope(con: duckdb.DuckDBPyConnection, path: Path) -> Envelope:
    # Each line is read as one VARCHAR (CSV reader, no quoting, a delimiter JSON never holds).
    # Blank lines hold no event: they are skipped but keep the line numbers right. The lines are
    # stored in file order (insertion order is preserved), so a line's number is its rowid + 1:
    # cheaper than numbering them in a window, which runs on one core.
    con.execute("set preserve_insertion_order = true")  # DuckDB's default, relied on here
    con.execute(
        f"""
        create or replace temp table src_lines as
        select line
        from read_csv({sql_literal(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false,
                      delim = '\x1e', quote = '', escape = '', auto_detect = false,
                      max_line_size = {MAX_LINE_BYTES})
        """
    )
    con.execute(
        "create or replace temp view src as select rowid + 1 as line_no, line from src_lines"
    )
    paths = ", ".join(sql_literal(f"$.{f}") for f in (*_SCALARS, "properties", "context"))
    n = len(_SCALARS)
    cols = ", ".join(
        f"j[{i + 1}]->>'$' as {f}, json_type(j[{i + 1}]) as {f}_t" for i, f in enumerate(_SCALARS)
    )
    return Envelope(f"""
        with sized as (
            select line_no, line, strlen(line) as size,
                   size > getvariable('max_bytes') as oversized,
                   not oversized and json_valid(line) as ok_json,
                   ok_json and {_starts_object("line")} as ok_object
            from src
            where line is not null and (ascii(line) > 32 or trim(line) <> '')
        ),
        parsed as (
            select line_no, size,
                   case when oversized then null
                        when not ok_json then 'malformed_json|not valid JSON'
                        when not ok_object then 'not_an_object|' || lower(json_type(line))
                   end as parse_error,
                   if(ok_object, json_extract(line, [{paths}]), null) as j
            from sized
        )
        select line_no, size, parse_error, {cols},
               j[{n + 1}]::varchar as properties, json_type(j[{n + 1}]) as properties_t,
               json_type(j[{n + 2}]) as context_t
        from parsed
    """)


def _parquet_kind(dtype: str) -> str:
    """The json_type name of a Parquet column's values (a zoned timestamp is sent as text)."""
    base = dtype.split("(")[0]
    if base in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT") or base.startswith("U"):
        kind = "BIGINT"
    elif base in ("DOUBLE", "FLOAT", "DECIMAL"):
        kind = "DOUBLE"
    elif base == "BOOLEAN":
        kind = "BOOLEAN"
    elif base.startswith(("STRUCT", "MAP")):
        kind = "OBJECT"
    elif base.endswith("[]") or base.startswith("LIST"):
        kind = "ARRAY"
    else:  # VARCHAR, and anything else a platform may send as text (a plain TIMESTAMP has no zone)
        kind = "VARCHAR"
    return kind


def _parquet_text(name: str, dtype: str | None) -> str:
    """SQL: a Parquet column's value as the text an NDJSON line would carry (objects as JSON, a
    zoned timestamp in ISO-8601, an absent column as NULL)."""
    if dtype is None:
        return "null::varchar"
    if dtype == "TIMESTAMP WITH TIME ZONE":
        return f"strftime({name}, '%Y-%m-%dT%H:%M:%S.%fZ')"
    if dtype.startswith(("STRUCT", "MAP")):
        return f"to_json({name})::varchar"
    return f"{name}::varchar"


def _parquet_field(name: str, dtype: str | None) -> str:
    """SELECT items `<name>, <name>_t` for one envelope field of a Parquet file."""
    if dtype is None:  # column absent: the field is missing on every row
        return f"null::varchar as {name}, null::varchar as {name}_t"
    kind = _parquet_kind(dtype)
    return f"{_parquet_text(name, dtype)} as {name}, if({name} is null, null, '{kind}') as {name}_t"


def _parquet_envelope(con: duckdb.DuckDBPyConnection, path: Path) -> Envelope:
    describe = con.execute(f"describe select * from read_parquet({sql_literal(str(path))})")
    types = {name: dtype for name, dtype, *_ in describe.fetchall()}
    items = ", ".join(_parquet_field(f, types.get(f)) for f in _SCALARS)
    # An absent column is NULL on every row, as fixed as a typed one.
    column_types = {f: _parquet_kind(types[f]) if f in types else "NULL" for f in _SCALARS}
    # a typed object is as good as JSON text
    json_text = {f: _parquet_text(f, types.get(f)) for f in ("properties", "context")}
    text_cols = [f for f in ENVELOPE if types.get(f) == "VARCHAR"]
    size = " + ".join(f"coalesce(strlen({c}), 0)" for c in text_cols) or "0"
    return Envelope(
        f"""
        with rows as (
            select file_row_number + 1 as line_no, {size} as size,
                   {json_text["properties"]} as properties_text, {json_text["context"]} as context,
                   {items}
            from read_parquet({sql_literal(str(path))}, file_row_number = true)
        )
        select line_no, size,
               case when size > getvariable('max_bytes') then null
                    when properties_text is not null and not json_valid(properties_text)
                        then 'malformed_json|properties is not valid JSON'
               end as parse_error,
               {", ".join(f"{f}, {f}_t" for f in _SCALARS)},
               -- Minified like NDJSON's, so both formats give one fingerprint per payload.
               if(parse_error is null and contains(properties_text, ' '),
                  json(properties_text)::varchar, properties_text) as properties,
               case when parse_error is not null then null
                    when {_starts_object("properties_text")} then 'OBJECT'
                    else json_type(properties_text) end as properties_t,
               -- context is dropped unread: only its kind is checked, without parsing it
               case when context is null then null
                    when {_starts_object("context")} then 'OBJECT'
                    else 'VARCHAR' end as context_t
        from rows
    """,
        column_types,
    )


def _rejected_source_sql(con: duckdb.DuckDBPyConnection, fmt: str, path: Path) -> str:
    """(line_no, raw, context, occurred_at) of the rejected rows, for their originals and copies.

    Checks never carry the raw line or the context along (millions of long strings), nor the
    occurred_at text of rows with a valid envelope; these few rows get them back from the
    numbered lines (NDJSON: the raw line holds everything) or from the file (Parquet).
    """
    wanted = "in (select line_no from rejected)"
    if fmt == "ndjson":
        return (
            "select line_no, line as raw, null::varchar as context, null::varchar as occurred_at "
            f"from src where line_no {wanted}"
        )
    describe = con.execute(f"describe select * from read_parquet({sql_literal(str(path))})")
    types = {name: t for name, t, *_ in describe.fetchall()}
    return (
        f"select file_row_number + 1 as line_no, null::varchar as raw, "
        f"{_parquet_text('context', types.get('context'))} as context, "
        f"{_parquet_text('occurred_at', types.get('occurred_at'))} as occurred_at "
        f"from read_parquet({sql_literal(str(path))}, file_row_number = true) "
        f"where file_row_number + 1 {wanted}"
    )


# ------------------------------------------------------------------ 2-5. check, key, dedup, consent

# A valid event's row: `checked` rows without an envelope or property problem (callers add
# `where c.problem is null`), with their key. Kept as SQL, not a table: copying ten million
# wide rows costs more than joining where needed. `_OK` is the same without the key.
_OK = "checked c anti join prop_problems p using (line_no)"
_VALID = f"{_OK} join keys k using (user_id)"


def _redacted_properties(col: str = "properties") -> str:
    """Free-text event types get the full redaction; others only if they could hold an e-mail."""
    return (
        f"case when event_type in {sql_list(FREE_TEXT_TYPES)} or {col} like '%@%' "
        f"then {sql_redact(col)} else {col} end"
    )


def _fingerprint(ts: str, props: str) -> str:
    """md5 of an event's payload as stored (so stored rows need no fingerprint column).

    Context is left out: a retry from another device is the same event. Redaction happens first,
    so two payloads that differ only in a redacted e-mail count as the same.
    """
    return (
        f"md5_number(concat_ws(chr(31), event_type, {ts}::varchar, learner_key, "
        "coalesce(session_id, ''), coalesce(course_id, ''), coalesce(module_id, ''), "
        f"schema_version::integer::varchar, {props}))"
    )


def _classify(
    con: duckdb.DuckDBPyConnection, envelope: Envelope, window_days: int, lap: Laps
) -> None:
    """Check, key and de-duplicate the batch; decide consent.

    Leaves `checked` (every received row and its envelope problem), `prop_problems`, `keys`
    (user_id -> learner_key) and `fates`: the valid events that are not simply loaded
    (duplicate, conflict, aggregated, consent_dropped).
    """
    con.execute(
        f"""
        create or replace temp table checked as
        select line_no, problem, ts, kind as event_type,
               event_id, user_id{envelope.tags("event_id", "event_type", "user_id")},
               session_id, course_id, module_id, schema_version, properties,
               -- valid rows carry `ts` and `event_type` (an ENUM); texts as received are kept
               -- only for quarantine copies
               if(problem is null, null, occurred_at) as occurred_at,
               if(problem is null, null, event_type) as event_type_text
        from (select *, {envelope_problem_sql(envelope.column_types)} as problem
              from (select *, try_cast(occurred_at as timestamptz)::timestamp as ts,
                           try_cast(event_type as {event_type_enum()}) as kind
                    from ({envelope.sql})))
        """
    )
    lap("properties")
    envelope_ok = "(select line_no, event_type, properties from checked where problem is null)"
    con.execute(
        f"create or replace temp table prop_problems as {property_problems_sql(envelope_ok)}"
    )
    # 3. Pseudonyms for every parseable user_id (also of quarantined rows: their copies carry it).
    lap("pseudonyms")
    con.execute(
        f"""
        create or replace temp table keys as
        select user_id, {sql_pseudonym("user_id")} as learner_key
        from (select distinct {envelope.text("user_id")} as user_id from checked c
              where user_id <> '')
        cross join _pseudonym_pads
        where user_id is not null
        """
    )
    lap("duplicates")
    # 4. Duplicates. Only events whose id repeats (in the batch, or within the window before it)
    # need a payload fingerprint: within the batch the first line wins, else the stored event.
    lo = con.execute("select min(ts) from checked where problem is null").fetchall()[0][0]
    window_start = (lo or datetime(1970, 1, 1)) - timedelta(days=window_days)
    con.execute(f"set variable window_start = timestamp '{window_start.isoformat(sep=' ')}'")
    con.execute(
        """
        create or replace temp table repeats as
        -- 8-byte hashes first (far cheaper than millions of id strings): sorted, a repeated hash
        -- sits next to its twin (twice as fast as grouping them). Only the few rows whose hash
        -- repeats are then grouped by their real id.
        with hashed as (
            select line_no, hash(event_id) as h from checked where problem is null
        ),
        neighbours as (
            select line_no, h, lag(h) over w as prev, lead(h) over w as next
            from hashed window w as (order by h)
        ),
        repeated as (  -- rows with a property problem are quarantined: they repeat nothing
            select line_no, event_id
            from checked
            semi join (select line_no from neighbours where h = prev or h = next) using (line_no)
            anti join prop_problems using (line_no)
        ),
        ids as (select event_id from repeated group by event_id having count(*) > 1)
        select line_no, event_id, row_number() over w = 1 as first_in_batch
        from repeated semi join ids using (event_id)
        window w as (partition by event_id order by line_no)
        """
    )
    con.execute(
        f"""
        create or replace temp table stored as
        with recent as (
            select event_id, {_fingerprint("occurred_at", "properties")} as fp
            from warehouse.raw.events where occurred_at >= getvariable('window_start')
            union all
            select event_id, fingerprint from warehouse.raw.event_ids
            where occurred_at >= getvariable('window_start')
        )
        select event_id, fp from recent
        where event_id in (select event_id from checked where problem is null)
        """
    )
    con.execute(
        f"""
        create or replace temp table dup_fates as
        with lines as (  -- the few valid rows whose id repeats in the batch or was stored
            select line_no from repeats
            union
            select line_no from checked
            where problem is null and event_id in (select event_id from stored)
        ),
        candidates as (  -- only they are keyed and fingerprinted, not the whole batch
            select c.line_no, c.event_id, coalesce(r.first_in_batch, true) as first_in_batch,
                   {_fingerprint("c.ts", _redacted_properties("c.properties"))} as fp
            from checked c semi join lines using (line_no)
            anti join prop_problems p using (line_no)
            join keys k using (user_id)
            left join repeats r using (line_no)
        ),
        firsts as (select event_id, fp as first_fp from candidates where first_in_batch)
        select n.line_no,
               case when not n.first_in_batch then if(n.fp = f.first_fp, 'duplicate', 'conflict')
                    when s.fp is null then null
                    else if(n.fp = s.fp, 'duplicate', 'conflict') end as fate
        from candidates n
        join firsts f using (event_id)
        left join stored s using (event_id)
        """
    )
    lap("consent")
    # 5. Consent: the latest `fine` consent change at or before each fine event decides. The
    # batch's own consent changes count (all essential, so loaded unless duplicate/conflict).
    fine = sql_list(FINE_EVENT_TYPES)
    con.execute(
        f"""
        create or replace temp table fine_events as
        select c.line_no, k.learner_key, c.ts as occurred_at, c.course_id, c.event_id,
               c.event_type, c.session_id, c.module_id, c.schema_version, c.properties
        from {_VALID}
        where c.problem is null and c.event_type in {fine}
          and c.line_no not in (select line_no from dup_fates where fate is not null)
        """
    )
    con.execute(
        f"""
        create or replace temp table consent_timeline as
        select learner_key, occurred_at, (properties->>'granted')::boolean as granted
        from warehouse.raw.events
        where event_type = 'consent_changed' and (properties->>'tier') = 'fine'
          and learner_key in (select learner_key from fine_events)
        union all
        select k.learner_key, c.ts, (c.properties->>'granted')::boolean
        from {_VALID}
        where c.problem is null and c.event_type = 'consent_changed'
          -- CASE keeps DuckDB from parsing properties of rows a reordered filter let through
          and case when c.problem is null then c.properties->>'tier' end = 'fine'
          and c.line_no not in (select line_no from dup_fates where fate is not null)
        """
    )
    con.execute(
        """
        create or replace temp table fates as
        select line_no, fate from dup_fates where fate is not null
        union all
        select f.line_no, if(coalesce(c.granted, false), 'aggregated', 'consent_dropped')
        from fine_events f
        asof left join consent_timeline c
          on f.learner_key = c.learner_key and f.occurred_at >= c.occurred_at
        """
    )


# ------------------------------------------------------------------ quarantine copies

# Reasons whose raw line is no JSON object to patch (too big to parse, or not parseable).
_UNREADABLE = ("oversized", "malformed_json", "not_an_object")
# Scrubbing text that is not valid JSON: blank out user_id and context values by pattern.
_USER_ID_VALUE = r'"user_id"\s*:\s*("(\\.|[^"\\])*"?|[^,}\]]*)'
_CONTEXT_VALUE = r'"context"\s*:\s*(\{[^{}]*\}?|[^,}]*)'


def _quarantine(con: duckdb.DuckDBPyConnection, envelope: Envelope, fmt: str, path: Path) -> None:
    """`quarantine`: every rejected event with its reason, the original and a redacted copy."""
    # The copy is cut to a window below, so only that much of the properties text (a string
    # field here, JSON escaping only lengthens it) can reach it: encoding more is wasted work on
    # oversized payloads.
    window = REDACTED_PAYLOAD_CHARS + 300
    # `checked` keeps the texts as received only for rows with an envelope problem; a row
    # rejected later (properties, conflicts) has a known type (its ENUM is that text) and its
    # occurred_at text comes back from the file.
    event_type = "coalesce(c.event_type::varchar, c.event_type_text)"
    occurred_at = "coalesce(c.occurred_at, x.occurred_at)"
    as_json_copy = (
        f"to_json(struct_pack(event_id := c.event_id, event_type := {event_type}, "
        f"occurred_at := {occurred_at}, learner_key := k.learner_key, session_id := c.session_id, "
        "course_id := c.course_id, module_id := c.module_id, "
        f"schema_version := c.schema_version, properties := left(c.properties, {window})))::varchar"
    )
    scrubbed = (
        f"regexp_replace(regexp_replace(x.raw, {sql_literal(_USER_ID_VALUE)}, "
        f"'\"user_id\":\"[redacted]\"', 'g'), {sql_literal(_CONTEXT_VALUE)}, "
        "'\"context\":\"[dropped]\"', 'g')"
    )
    pseudonymized = (
        "json_merge_patch(x.raw, json_object('user_id', null, 'context', null, "
        "'learner_key', k.learner_key))::varchar"
    )
    copy = f"""case when x.raw is null then {as_json_copy}
                    when split_part(r.problem, '|', 1) not in {sql_list(_UNREADABLE)}
                        then {pseudonymized}
                    else {scrubbed} end"""
    original = (
        f"coalesce(x.raw, to_json(struct_pack(event_id := c.event_id, event_type := {event_type}, "
        f"occurred_at := {occurred_at}, user_id := c.user_id, session_id := c.session_id, "
        "course_id := c.course_id, module_id := c.module_id, "
        "schema_version := c.schema_version, properties := c.properties, "
        "context := x.context))::varchar)"
    )
    # Materialized first: it is small, and a known size lets DuckDB hash it, not `checked`.
    con.execute(
        """
        create or replace temp table rejected as  -- a row fails one check at most: no repeats
        select line_no, problem from checked where problem is not null
        union all
        select line_no, problem from prop_problems
        union all
        select line_no, 'duplicate_conflict|same event_id, different payload'
        from fates where fate = 'conflict'
        """
    )
    con.execute(
        f"create or replace temp table rejected_source as {_rejected_source_sql(con, fmt, path)}"
    )
    con.execute(
        f"""
        create or replace temp table quarantine as
        select c.line_no,
               split_part(r.problem, '|', 1) as reason,
               nullif(substr(r.problem, strpos(r.problem, '|') + 1), '') as detail,
               left({envelope.text("event_id")}, 128) as event_id,
               left(coalesce(c.event_type::varchar,
                             {envelope.text("event_type", "event_type_text")}), 64) as event_type,
               k.learner_key,
               -- Redact a window a little longer than what is kept: no e-mail address (<= 254
               -- chars) or phone number can straddle the cut and survive in part.
               left({sql_redact(f"left({copy}, {window})")},
                    {REDACTED_PAYLOAD_CHARS}) as payload_redacted,
               {original} as original
        from rejected r
        join checked c using (line_no)
        left join rejected_source x using (line_no)
        left join keys k on k.user_id = {envelope.text("user_id")}
        """
    )


# ------------------------------------------------------------------ 6. write


def _write(con: duckdb.DuckDBPyConnection, batch: BatchResult, started: datetime) -> None:
    params = {"batch": batch.batch_id, "src": batch.source_file, "now": started}
    # Vault first, idempotently: if we die after this, the re-run inserts nothing new here.
    con.execute(
        "insert into vault.identities select learner_key, user_id, $now from keys "
        "on conflict do nothing",
        {"now": started},
    )
    # One statement, so a batch's originals are in the vault whole or not at all.
    con.execute(
        "insert into vault.quarantine_originals "
        "select $batch, line_no, $src, original from quarantine "
        "where not exists (select 1 from vault.quarantine_originals where batch_id = $batch)",
        {"batch": batch.batch_id, "src": batch.source_file},
    )
    con.begin()
    try:
        con.execute(
            f"""
            insert into warehouse.raw.events
            select c.event_id, c.event_type, c.ts, k.learner_key, c.session_id, c.course_id,
                   c.module_id, c.schema_version::integer, {_redacted_properties()}, $batch, $now
            from {_VALID}
            anti join (select line_no from dup_fates where fate is not null) d using (line_no)
            where c.problem is null and c.event_type not in {sql_list(FINE_EVENT_TYPES)}
            """,
            {"batch": batch.batch_id, "now": started},
        )
        con.execute(
            f"insert into warehouse.raw.event_ids select event_id, "
            f"{_fingerprint('occurred_at', 'properties')}, occurred_at, $batch "
            "from fine_events join fates using (line_no) where fate = 'aggregated'",
            {"batch": batch.batch_id},
        )
        con.execute(
            """
            insert into warehouse.raw.fine_signals_daily
            with fine as (
                select learner_key, course_id, occurred_at::date as activity_date, event_type,
                       (properties->>'from_s')::double as from_s,
                       (properties->>'to_s')::double as to_s
                from fine_events join fates using (line_no) where fate = 'aggregated'
            )
            select learner_key, course_id, activity_date,
                   count(*) filter (where event_type = 'video_seek'),
                   count(*) filter (where event_type = 'video_seek' and to_s < from_s),
                   count(*) filter (where event_type = 'video_seek' and to_s > from_s),
                   count(*) filter (where event_type = 'video_pause'),
                   coalesce(sum(from_s - to_s) filter (where to_s < from_s), 0),
                   coalesce(sum(to_s - from_s) filter (where to_s > from_s), 0),
                   $batch
            from fine
            group by learner_key, course_id, activity_date
            """,
            {"batch": batch.batch_id},
        )
        con.execute(
            """
            insert into warehouse.raw.quarantined_events
            select $batch, $src, line_no, reason, detail, event_id, event_type, learner_key,
                   payload_redacted, $now
            from quarantine order by line_no
            """,
            params,
        )
        con.execute(
            "insert into warehouse.raw.ingest_batches values "
            "($batch, $src, $fmt, $received, $loaded, $aggregated, $duplicates, $quarantined, "
            "$consent_dropped, $now, $finished, $version)",
            {
                **params,
                "fmt": batch.source_format,
                "received": batch.received,
                "loaded": batch.loaded,
                "aggregated": batch.aggregated,
                "duplicates": batch.duplicates,
                "quarantined": batch.quarantined,
                "consent_dropped": batch.consent_dropped,
                "finished": datetime.now(UTC).replace(tzinfo=None),
                "version": SCHEMA_VERSION,
            },
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


# ------------------------------------------------------------------ entry point


def ingest_file(path: Path, settings: Settings | None = None) -> BatchResult:
    """Load one event file as one atomic batch (see the module docstring)."""
    s = settings or get_settings()
    path = Path(path)
    fmt = event_format(path)
    if fmt is None:
        raise ValueError(f"{path}: not an event file (.parquet, .ndjson[.gz] or .jsonl[.gz])")
    t0 = time.perf_counter()
    batch = BatchResult("", str(path), fmt, "loaded")
    lap = Laps(batch.steps)
    lap("file sha256")
    batch.batch_id = file_sha256(path)
    lap("open")
    con = open_connection(vault=True, settings=s)
    # Taken while holding the warehouse (one writer at a time), so batches' `loaded_at` grows in
    # commit order: the incremental dbt models read the events loaded after their newest one.
    started = datetime.now(UTC).replace(tzinfo=None)
    try:
        already = con.execute(
            "select count(*) from warehouse.raw.ingest_batches where batch_id = $b",
            {"b": batch.batch_id},
        ).fetchall()[0][0]
        if already:
            batch.status = "skipped"
            batch.seconds = time.perf_counter() - t0
            return batch
        con.execute("set TimeZone = 'UTC'")
        install_pseudonym_key(con, s.pseudonym_key.get_secret_value())
        con.execute(f"set variable max_bytes = {int(s.max_event_bytes)}")
        latest = started + timedelta(hours=s.max_clock_skew_hours)
        con.execute(f"set variable latest_ts = timestamp '{latest.isoformat(sep=' ')}'")
        lap("read")  # NDJSON: its lines into memory; Parquet is read by the check itself
        envelope = _parquet_envelope(con, path) if fmt == "parquet" else _ndjson_envelope(con, path)
        lap("check")
        _classify(con, envelope, s.dedup_window_days, lap)
        lap("quarantine")
        _quarantine(con, envelope, fmt, path)
        _count(con, batch)
        lap("write")
        _write(con, batch, started)
        lap("close")
    finally:
        con.close()
        lap(None)  # also for a skipped batch, whose last step is "open"
    batch.seconds = time.perf_counter() - t0
    return batch


def _count(con: duckdb.DuckDBPyConnection, batch: BatchResult) -> None:
    def one(sql: str) -> int:
        return con.execute(sql).fetchall()[0][0]

    fates = dict(con.execute("select fate, count(*) from fates group by fate").fetchall())
    batch.received = one("select count(*) from checked")
    batch.quarantined = one("select count(*) from quarantine")
    batch.duplicates = fates.get("duplicate", 0)
    batch.consent_dropped = fates.get("consent_dropped", 0)
    batch.aggregated = fates.get("aggregated", 0)
    valid = one(f"select count(*) from {_OK} where c.problem is null")
    batch.loaded = valid - batch.duplicates - batch.consent_dropped - fates.get("conflict", 0)
    batch.reasons = dict(
        con.execute(
            "select reason, count(*) from quarantine group by reason order by 2 desc"
        ).fetchall()
    )
