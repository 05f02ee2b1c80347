"""Quarantine copies: every rejected event with its reason, the original (for the identity vault)
and a redacted copy (for the warehouse)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pathwise.ingestion.envelope import Envelope, rejected_source_sql
from pathwise.privacy import sql_redact
from pathwise.validation import sql_list, sql_literal

REDACTED_PAYLOAD_CHARS = 2000  # the warehouse's quarantine copy is for diagnosis, not recovery

# Reasons whose raw line is no JSON object to patch (too big to parse, or not parseable).
_UNREADABLE = ("oversized", "malformed_json", "not_an_object")
# Scrubbing text that is not valid JSON: blank out user_id and context values by pattern.
_USER_ID_VALUE = r'"user_id"\s*:\s*("(\\.|[^"\\])*"?|[^,}\]]*)'
_CONTEXT_VALUE = r'"context"\s*:\s*(\{[^{}]*\}?|[^,}]*)'


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
        f"create or replace temp table rejected_source as {rejected_source_sql(con, fmt, path)}"
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
