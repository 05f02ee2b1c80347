"""Steps 2-5 of a batch: check the contract, key user and session ids, find duplicates, decide
consent.

Each step leaves a temp table in the batch's in-memory database: `checked` (every received row and
its envelope problem), `prop_problems`, `keys` (user_id -> learner_key), `sessions` (session_id ->
session_key), `dup_fates` and `fates` (the valid events that are not simply loaded: duplicate,
conflict, aggregated, consent_dropped).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from pathwise.contract import EVENT_TYPES, FINE_EVENT_TYPES, FREE_TEXT_TYPES, Prop
from pathwise.ingestion.envelope import Envelope
from pathwise.privacy import (
    sql_app_learner_key,
    sql_pseudonym,
    sql_redact,
    sql_session_key,
    sql_tombstone,
)
from pathwise.validation import (
    envelope_problem_sql,
    event_type_enum,
    property_problems_sql,
    sql_list,
    sql_literal,
)

if TYPE_CHECKING:
    from pathwise.ingestion import Laps

# A valid event's row: `checked` rows without an envelope or property problem (callers add
# `where c.problem is null`), with their key and session key. Kept as SQL, not a table: copying
# ten million wide rows costs more than joining where needed. `OK` is the same without the keys.
OK = "checked c anti join prop_problems p using (line_no)"
# `u`: the row's undeclared properties, if it has any.
VALID = (
    f"{OK} join keys k using (user_id) left join sessions s on s.session_id = c.session_id "
    "left join undeclared u using (line_no)"
)


def declared_names(kind: str = "event_type") -> str:
    """SQL: the property names the contract declares for event type `kind` (a VARCHAR list)."""
    whens = " ".join(
        f"when {sql_literal(n)} then [{', '.join(sql_literal(p.name) for p in e.props)}]"
        for n, e in EVENT_TYPES.items()
        if e.props
    )
    return f"(case {kind}::varchar {whens} else []::varchar[] end)"


def undeclared_keys(col: str = "properties", kind: str = "event_type") -> str:
    """SQL: the keys of JSON object `col` that event type `kind` does not declare."""
    return f"list_filter(json_keys({col}), k -> not list_contains({declared_names(kind)}, k))"


def declared_object(value: Callable[[Prop], str], kind: str = "event_type") -> str:
    """SQL: a JSON object of the properties event type `kind` declares, each `value(prop)` (a
    JSON expression); null ones are left out."""
    whens = " ".join(
        f"when {sql_literal(n)} then json_object("
        + ", ".join(f"{sql_literal(p.name)}, {value(p)}" for p in e.props)
        + ")"
        for n, e in EVENT_TYPES.items()
        if e.props
    )
    return f"json_merge_patch('{{}}', case {kind}::varchar {whens} else '{{}}' end)"


def declared_only(col: str = "c.properties", kind: str = "c.event_type") -> str:
    """SQL: JSON object `col` without the properties `kind` does not declare, for a row joined
    to `undeclared u` (unchanged when it has none: the common case keeps its text, so its
    fingerprint). Nulls are left out too."""
    projected = declared_object(lambda p: f"{col}->{sql_literal(p.name)}", kind)
    return f"if(u.line_no is null, {col}, {projected}::varchar)"


def redacted_properties(col: str = "properties") -> str:
    """Free-text event types get the full redaction; others only if they could hold an e-mail."""
    return (
        f"case when event_type in {sql_list(FREE_TEXT_TYPES)} or {col} like '%@%' "
        f"then {sql_redact(col)} else {col} end"
    )


def stored_properties(col: str = "c.properties") -> str:
    """SQL: a valid event's properties as stored: declared ones only, free text redacted."""
    return redacted_properties(declared_only(col))


def fingerprint(ts: str, props: str, session: str = "session_id") -> str:
    """md5 of an event's payload as stored (so stored rows need no fingerprint column).

    Context is left out: a retry from another device is the same event. Redaction happens first,
    so two payloads that differ only in a redacted e-mail count as the same.
    """
    return (
        f"md5_number(concat_ws(chr(31), event_type, {ts}::varchar, learner_key, "
        f"coalesce({session}, ''), coalesce(course_id, ''), coalesce(module_id, ''), "
        f"schema_version::integer::varchar, {props}))"
    )


def classify(
    con: duckdb.DuckDBPyConnection,
    envelope: Envelope,
    window_days: int,
    lap: Laps,
    quarantine_undeclared: bool = False,
) -> None:
    """Check, key and de-duplicate the batch; decide consent (see the module docstring)."""
    check(con, envelope)
    lap("properties")
    envelope_ok = "(select line_no, event_type, properties from checked where problem is null)"
    con.execute(
        f"create or replace temp table prop_problems as {property_problems_sql(envelope_ok)}"
    )
    # Rows with properties their type does not declare, found once (a key list per row is
    # costly: 1M rows take seconds) and joined where needed.
    con.execute(
        f"""
        create or replace temp table undeclared as
        select line_no, {undeclared_keys()} as names
        from {envelope_ok} anti join prop_problems using (line_no)
        where not list_has_all({declared_names()}, json_keys(properties))
        """
    )
    if quarantine_undeclared:  # one problem per row: prop_problems' rows are not in it
        con.execute(
            "insert into prop_problems select line_no, 'undeclared_property|' || names[1] "
            "from undeclared"
        )
    lap("pseudonyms")
    pseudonyms(con, envelope)
    lap("duplicates")
    duplicates(con, window_days)
    lap("consent")
    consent(con)


def check(con: duckdb.DuckDBPyConnection, envelope: Envelope) -> None:
    """2. `checked`: every received row with its first envelope problem (null: none)."""
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


def pseudonyms(con: duckdb.DuckDBPyConnection, envelope: Envelope) -> None:
    """3. `keys`: a learner_key for every parseable user_id, `sessions`: a session_key for every
    session_id (of quarantined rows too: their copies carry them). No raw id is ever taken for
    a key, whatever it looks like: every key is computed here, but for the app's own events,
    whose learner_key is signed with the key (`privacy.app_user_id`)."""
    con.execute(
        f"""
        create or replace temp table keys as
        select user_id,
               coalesce({sql_app_learner_key("user_id")}, {sql_pseudonym("user_id")}) as learner_key
        from (select distinct {envelope.text("user_id")} as user_id from checked c
              where user_id <> '')
        cross join _pseudonym_pads
        where user_id is not null
        """
    )
    drop_erased(con, envelope)
    con.execute(
        f"""
        create or replace temp table sessions as
        select session_id, {sql_session_key("session_id")} as session_key
        from (select distinct session_id from checked where session_id <> '')
        cross join _pseudonym_pads
        """
    )


def drop_erased(con: duckdb.DuckDBPyConnection, envelope: Envelope) -> None:
    """`erased`: the lines of erased learners (a tombstone in the vault), taken out of the batch
    before anything of theirs is stored, quarantined or kept in the vault; counted, not loaded."""
    con.execute("create or replace temp table erased (user_id varchar, lines bigint)")
    if not con.execute("select count(*) from vault.erasure_tombstones").fetchall()[0][0]:
        return  # the usual case: nothing to hash
    user_id = envelope.text("user_id")
    con.execute(
        f"""
        insert into erased
        select t.user_id, count(*) from checked c
        join (select user_id from keys cross join _pseudonym_pads
              where {sql_tombstone("user_id")} in (select tombstone from vault.erasure_tombstones))
          t on t.user_id = {user_id}
        group by all
        """
    )
    con.execute(f"delete from checked as c where {user_id} in (select user_id from erased)")
    con.execute("delete from keys where user_id in (select user_id from erased)")


def duplicates(con: duckdb.DuckDBPyConnection, window_days: int) -> None:
    """4. `dup_fates`: duplicate or conflict, for valid rows whose event_id was seen before.

    Only events whose id repeats (in the batch, or within the window before it) need a payload
    fingerprint: within the batch the first line wins, else the stored event."""
    lo = con.execute("select min(ts) from checked where problem is null").fetchall()[0][0]
    window_start = (lo or datetime(1970, 1, 1)) - timedelta(days=window_days)
    con.execute("set variable window_start = $ts::timestamp", {"ts": window_start})
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
            select event_id, {fingerprint("occurred_at", "properties")} as fp
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
                   {fingerprint("c.ts", stored_properties(), "s.session_key")} as fp
            from checked c semi join lines using (line_no)
            anti join prop_problems p using (line_no)
            join keys k using (user_id)
            left join sessions s on s.session_id = c.session_id
            left join undeclared u using (line_no)
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


def consent(con: duckdb.DuckDBPyConnection) -> None:
    """5. `fates`: the latest `fine` consent change at or before each fine event decides
    (aggregated or consent_dropped). The batch's own consent changes count (all essential, so
    loaded unless duplicate/conflict)."""
    fine = sql_list(FINE_EVENT_TYPES)
    con.execute(
        f"""
        create or replace temp table fine_events as
        select c.line_no, k.learner_key, c.ts as occurred_at, c.course_id, c.event_id,
               c.event_type, s.session_key as session_id, c.module_id, c.schema_version,
               {stored_properties()} as properties
        from {VALID}
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
        from {VALID}
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
