"""Quarantine copies: every rejected event with its reason, the original (for the identity vault)
and a redacted copy (for the warehouse).

The warehouse's copy holds nothing personal: it is rebuilt from the envelope's fields (so unknown
top-level fields and `context` never reach it), with the learner_key and session_key for the ids,
only the declared properties' shape (numbers, booleans and allowed choices as sent, any other
value as its type, e.g. `"<varchar>"`; undeclared ones by name only), the row's own user_id cut
out of every text, and every text column redacted and capped. A line that is no JSON object
keeps its shape only: every string in it but short identifier-like keys is blanked. The vault
keeps the original for recovery.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pathwise.contract import Prop
from pathwise.ingestion.classify import declared_object, undeclared_keys
from pathwise.ingestion.envelope import Envelope, rejected_source_sql
from pathwise.privacy import sql_redact_capped
from pathwise.validation import MIN_USER_ID_IN_ID, sql_list, sql_literal

REDACTED_PAYLOAD_CHARS = 2000  # the warehouse's quarantine copy is for diagnosis, not recovery
DETAIL_CHARS = 200
EVENT_ID_CHARS = 128
EVENT_TYPE_CHARS = 64

# Reasons whose raw line is no JSON object to rebuild (too big to parse, or not parseable).
_UNREADABLE = ("oversized", "malformed_json", "not_an_object")
# Blanking the strings of a line that is not valid JSON, in three passes (RE2 has no lookahead):
# identifier-like keys are unquoted into \x01..\x02 markers, every remaining string is blanked,
# then the keys get their quotes back.
_KEY = r'"([A-Za-z_][A-Za-z0-9_.]{0,63})"(\s*:)'
_STRING = r'"(\\.|[^"\\])*"?'
_MARKED_KEY = "\x01([^\x01\x02]*)\x02"
_MARK_KEY = sql_literal("\x01\\1\x02\\2")
_UNMARK_KEY = sql_literal('"\\1"')
# JSON types whose value the copy shows as sent: they hold no text anyone wrote.
_SHOWN_TYPES = "['UBIGINT', 'BIGINT', 'HUGEINT', 'DOUBLE', 'BOOLEAN', 'NULL']"


def _shape_only(raw: str) -> str:
    """SQL: the text of `raw` with every string blanked but identifier-like keys."""
    marked = f"regexp_replace({raw}, {sql_literal(_KEY)}, {_MARK_KEY}, 'g')"
    blanked = f"regexp_replace({marked}, {sql_literal(_STRING)}, '\"~\"', 'g')"
    return f"regexp_replace({blanked}, {sql_literal(_MARKED_KEY)}, {_UNMARK_KEY}, 'g')"


def _shape_value(col: str, p: Prop) -> str:
    """SQL: property `p` of JSON object `col` as sent if a number, boolean or allowed choice, else
    its JSON type as a string (no text the learner or the platform wrote)."""
    # list_contains, not `in (...)`: DuckDB plans every IN list as a join, and this expression
    # repeats for each declared property (seventy joins took 4 s of a 1M-event batch).
    v = f"({col}->{sql_literal(p.name)})"
    keep = f"list_contains({_SHOWN_TYPES}, json_type({v}))"
    if p.choices:
        allowed = "[" + sql_list(f'"{c}"' for c in p.choices)[1:-1] + "]"  # their JSON texts
        keep += f" or list_contains({allowed}, {v}::varchar)"
    return f"case when {keep} then {v} else to_json('<' || lower(json_type({v})) || '>') end"


def _without_user_id(expr: str) -> str:
    """SQL: text `expr` with the row's own user_id (if long enough to be one) cut out."""
    # `expr` appears once: it may be the whole rebuilt copy, which DuckDB would build twice.
    # Replacing '' leaves a text as it is.
    user_id = f"if(length(c.user_id) >= {MIN_USER_ID_IN_ID}, c.user_id, '')"
    return f"replace({expr}, {user_id}, '[user_id]')"


def _column(expr: str, chars: int) -> str:
    """SQL: a text column of the warehouse's copy: no user_id, redacted, capped."""
    return sql_redact_capped(_without_user_id(expr), chars)


def quarantine(con: duckdb.DuckDBPyConnection, envelope: Envelope, fmt: str, path: Path) -> None:
    """`quarantine`: every rejected event with its reason, the original and a redacted copy."""
    # The copy is cut to a window below, so only that much of the properties text (a string
    # field here, JSON escaping only lengthens it) can reach it: encoding more is wasted work on
    # oversized payloads.
    window = REDACTED_PAYLOAD_CHARS + 300
    # `checked` keeps the texts as received only for rows with an envelope problem; a row
    # rejected later (properties, conflicts) has a known type (its ENUM is that text) and its
    # occurred_at text comes back from the file.
    event_type = "coalesce(c.event_type::varchar, c.event_type_text)"
    occurred_at = "coalesce(c.occurred_at, x.occurred_at, strftime(c.ts, '%Y-%m-%dT%H:%M:%S.%fZ'))"
    # Only an object's properties are read; an unknown type declares none (all are named only).
    # `c.valid_properties`: the JSON text of the properties if valid (else NULL), so nothing parses
    # malformed text however the optimizer orders the expressions.
    is_object = "json_type(c.valid_properties) = 'OBJECT'"
    kind = "c.event_type"
    shape = declared_object(lambda p: _shape_value("c.valid_properties", p), kind)
    props = f"case when {is_object} then {shape} end"
    undeclared = f"case when {is_object} then {undeclared_keys('c.valid_properties', kind)} end"
    rebuilt = (
        f"to_json(struct_pack(event_id := c.event_id, event_type := {event_type}, "
        f"occurred_at := {occurred_at}, learner_key := k.learner_key, "
        "session_key := s.session_key, course_id := c.course_id, module_id := c.module_id, "
        f"schema_version := c.schema_version, properties := {props}, "
        f"undeclared_properties := {undeclared}))::varchar"
    )
    copy = f"""case when x.raw is not null
                         and split_part(r.problem, '|', 1) in {sql_list(_UNREADABLE)}
                        then {_shape_only(f"left(x.raw, {window})")}
                    else {rebuilt} end"""
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
        f"create or replace temp table rejected_source as {rejected_source_sql(con, fmt, path)}"
    )
    # The few rejected rows first, so the copies are built on them only, whatever plan the
    # joins below get.
    con.execute(
        "create or replace temp table rejected_rows as "
        "select *, case when json_valid(properties) then properties end as valid_properties "
        "from checked semi join rejected using (line_no)"
    )
    detail = "nullif(substr(r.problem, strpos(r.problem, '|') + 1), '')"
    typed = f"coalesce(c.event_type::varchar, {envelope.text('event_type', 'event_type_text')})"
    con.execute(
        f"""
        create or replace temp table quarantine as
        select c.line_no,
               split_part(r.problem, '|', 1) as reason,
               {_column(detail, DETAIL_CHARS)} as detail,
               {_column(envelope.text("event_id"), EVENT_ID_CHARS)} as event_id,
               {_column(typed, EVENT_TYPE_CHARS)} as event_type,
               k.learner_key,
               {_column(copy, REDACTED_PAYLOAD_CHARS)} as payload_redacted,
               {original} as original
        from rejected r
        join rejected_rows c using (line_no)
        left join rejected_source x using (line_no)
        left join keys k on k.user_id = {envelope.text("user_id")}
        left join sessions s on s.session_id = c.session_id
        """
    )
