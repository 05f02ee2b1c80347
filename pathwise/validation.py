"""The event contract compiled to SQL, so every check runs vectorized inside DuckDB.

Ingestion first brings each input row to an *envelope* relation: one column per envelope field,
its JSON type beside it (`<field>_t`, as DuckDB's json_type() names it, or NULL when absent), the `properties` object as JSON text, the row's size and any parse error.
The checks below turn that into a `problem` of the form `reason|detail` (NULL = valid); the first
failing check names the reason. Reasons are listed in `pathwise.contract.REASONS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pathwise.contract import (
    EVENT_TYPES,
    MAX_EVENT_ID_LENGTH,
    REQUIRED_ENVELOPE,
    SUPPORTED_SCHEMA_VERSIONS,
    EventType,
    Prop,
    Scope,
)
from pathwise.privacy import EMAIL_RE, IPV4_RE

# Ids that must not carry personal data (session_id is keyed-hashed instead, user_id keyed).
# Phone numbers are not looked for: digit runs are normal in ids.
ID_FIELDS = ("event_id", "course_id", "module_id")
# A user_id at least this long found inside an id is the platform leaking it (shorter ones
# would match by chance).
MIN_USER_ID_IN_ID = 6

ISO_TS_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"

# Contract types -> DuckDB's json_type() names. `<field>_t` columns hold json_type() names.
JSON_TYPES = {
    "string": ("VARCHAR",),
    "integer": ("UBIGINT", "BIGINT", "HUGEINT"),
    "number": ("UBIGINT", "BIGINT", "HUGEINT", "DOUBLE"),
    "boolean": ("BOOLEAN",),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
}


def _type_ok(kind: str, t: str, v: str) -> str:
    """SQL: JSON value `v`, whose json_type is `t`, fits the contract type `kind`."""
    if kind == "string[]":
        return (
            f"{t} = 'ARRAY' and coalesce(list_bool_and("
            f"list_transform(json_extract({v}, '$[*]'), x -> json_type(x) = 'VARCHAR')), true)"
        )
    return f"{t} in {sql_list(JSON_TYPES[kind])}"


_ENVELOPE_TYPES = {
    "event_id": "string",
    "event_type": "string",
    "occurred_at": "string",
    "user_id": "string",
    "session_id": "string",
    "course_id": "string",
    "module_id": "string",
    "schema_version": "integer",
    "properties": "object",
    "context": "object",
}


def sql_literal(s: str) -> str:
    """A SQL string literal of `s`."""
    return "'" + s.replace("'", "''") + "'"


def sql_list(values) -> str:
    """A parenthesized SQL list of string literals, for `in (...)`."""
    return "(" + ", ".join(sql_literal(str(v)) for v in values) + ")"


def event_type_enum() -> str:
    """The SQL type of a known event type: an ENUM, so that the checks and the later steps that
    pick events by type compare one byte, not a string (ten million rows, twenty scans)."""
    return f"ENUM{sql_list(EVENT_TYPES)}"


def _kind_in(names: list[str]) -> str:
    """SQL: `kind` is one of `names`, looked up by the ENUM's code in a constant list (DuckDB
    runs an IN list as a hash join on the type's text: 0.6 CPU-s at 11M events)."""
    flags = ", ".join("true" if n in names else "false" for n in EVENT_TYPES)
    return f"[{flags}][enum_code(kind) + 1]"


def envelope_problem_sql(column_types: Mapping[str, str] | None = None) -> str:
    """CASE expression over the envelope relation plus `ts` (occurred_at as a timestamp) and
    `kind` (event_type as `event_type_enum()`, NULL if unknown); reads variables max_bytes and
    latest_ts.

    `column_types`: the json_type every non-null value of a field has, where the input fixes it
    (a typed Parquet column). Those fields skip the per-row type checks they cannot fail; a
    column of the wrong type fails on every non-null row.
    """
    static = column_types or {}

    def missing(f: str) -> str:
        return f"{f} is null" if f in static else f"{f}_t is null or {f}_t = 'NULL'"

    whens = [
        ("size > getvariable('max_bytes')", "'oversized|' || size::varchar || ' bytes'"),
        ("parse_error is not null", "parse_error"),
    ]
    for f in REQUIRED_ENVELOPE:
        whens.append((missing(f), f"'missing_field|{f}'"))
    whens.append((missing("properties"), "'missing_field|properties'"))
    for f, t in _ENVELOPE_TYPES.items():
        if f not in static:
            ok = sql_list(("NULL", *JSON_TYPES[t]))
            whens.append((f"{f}_t is not null and {f}_t not in {ok}", f"'wrong_type|{f}'"))
        elif static[f] not in JSON_TYPES[t]:
            whens.append((f"{f} is not null", f"'wrong_type|{f}'"))
    whens += [
        (
            "event_id = '' or user_id = ''",
            "'missing_field|' || if(event_id = '', 'event_id', 'user_id')",
        ),
        (f"length(event_id) > {MAX_EVENT_ID_LENGTH}", "'wrong_type|event_id too long'"),
        (
            f"schema_version not in {sql_list(SUPPORTED_SCHEMA_VERSIONS)}",
            "'unsupported_schema_version|' || schema_version",
        ),
        ("kind is null", "'unknown_event_type|' || left(event_type, 64)"),
        (
            f"not regexp_full_match(occurred_at, {sql_literal(ISO_TS_RE)}) or ts is null",
            "'invalid_timestamp|' || left(occurred_at, 40)",
        ),
        ("ts > getvariable('latest_ts')", "'future_timestamp|' || left(occurred_at, 40)"),
        ("ts < timestamp '1990-01-01'", "'ancient_timestamp|' || left(occurred_at, 40)"),
    ]
    course_scoped = [n for n, e in EVENT_TYPES.items() if e.scope is not Scope.NONE]
    module_scoped = [n for n, e in EVENT_TYPES.items() if e.scope is Scope.MODULE]
    whens += [
        (
            f"{_kind_in(course_scoped)} and coalesce(course_id, '') = ''",
            "'missing_scope|course_id'",
        ),
        (
            f"{_kind_in(module_scoped)} and coalesce(module_id, '') = ''",
            "'missing_scope|module_id'",
        ),
    ]
    whens += [(_personal_data(f), f"'personal_data|{f}'") for f in ID_FIELDS]
    body = "\n        ".join(f"when {c} then {r}" for c, r in whens)
    return f"case\n        {body}\n    end"


def _personal_data(f: str) -> str:
    """SQL: id field `f` holds an e-mail, an IPv4 address or the row's user_id. The cheap
    `contains` tests run first: the regular expressions see only the few ids they let through."""
    return (
        f"(contains({f}, '@') and regexp_matches({f}, {sql_literal(EMAIL_RE)})) "
        f"or (contains({f}, '.') and regexp_matches({f}, {sql_literal(IPV4_RE)})) "
        f"or (length(user_id) >= {MIN_USER_ID_IN_ID} and contains({f}, user_id))"
    )


def _prop_check(p: Prop, i: int) -> str:
    v, t = f"v{i}", f"t{i}"  # the value (JSON) and its json_type, computed once
    missing = f"{v} is null or {t} = 'NULL'"
    if p.type == "string":
        missing += f" or {v} = '\"\"'"  # the JSON text of an empty string
    checks = [
        (missing, f"'missing_property|{p.name}'" if p.required else "null"),
        (f"not ({_type_ok(p.type, t, v)})", f"'wrong_type|properties.{p.name}'"),
    ]
    num = f"try_cast({v}::varchar as double)"  # a JSON number's text is a SQL number: no parse
    if p.minimum is not None:
        checks.append((f"{num} < {p.minimum}", f"'invalid_property|{p.name}'"))
    if p.maximum is not None:
        checks.append((f"{num} > {p.maximum}", f"'invalid_property|{p.name}'"))
    if p.choices:
        quoted = sql_list(f'"{c}"' for c in p.choices)  # JSON texts of the allowed strings
        checks.append((f"{v}::varchar not in {quoted}", f"'invalid_property|{p.name}'"))
    whens = " ".join(f"when {c} then {r}" for c, r in checks)
    return f"(case {whens} end)"


def _type_problem_sql(e: EventType, source: str) -> str:
    paths = ", ".join(sql_literal(f"$.{p.name}") for p in e.props)
    checks = ", ".join(_prop_check(p, i + 1) for i, p in enumerate(e.props))
    n = range(1, len(e.props) + 1)
    # One parse per event (json_extract with every path at once), then one column per property:
    # cheaper than indexing the list in every check.
    values = ", ".join(f"pv[{i}] as v{i}" for i in n)
    types = ", ".join(f"v{i}, json_type(v{i}) as t{i}" for i in n)
    return (
        f"select line_no, coalesce({checks}) as problem from ("
        f"select line_no, {types} from ("
        f"select line_no, {values} from ("
        f"select line_no, json_extract(properties, [{paths}]) as pv from {source} "
        f"where event_type = {sql_literal(e.name)})))"
    )


def property_problems_sql(source: str) -> str:
    """(line_no, problem) for rows of `source` (envelope-valid) whose properties break the contract."""
    parts = [_type_problem_sql(e, source) for e in EVENT_TYPES.values() if e.props]
    return "select * from (\n" + "\nunion all\n".join(parts) + "\n) where problem is not null"
