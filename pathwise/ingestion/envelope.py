"""Step 1 of a batch: read a file into an *envelope*, one row per event with each field, its JSON
type, the row's size and any parse error; NDJSON(.gz) line by line (so one bad line cannot sink the
file), Parquet row by row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pathwise.contract import ENVELOPE
from pathwise.validation import sql_literal

MAX_LINE_BYTES = 64 * 1024 * 1024  # longer lines fail the read with a clear error
SCALARS = [f for f in ENVELOPE if f not in ("properties", "context")]


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


def read_ndjson(con: duckdb.DuckDBPyConnection, path: Path) -> Envelope:
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
    paths = ", ".join(sql_literal(f"$.{f}") for f in (*SCALARS, "properties", "context"))
    n = len(SCALARS)
    cols = ", ".join(
        f"j[{i + 1}]->>'$' as {f}, json_type(j[{i + 1}]) as {f}_t" for i, f in enumerate(SCALARS)
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


def parquet_text(name: str, dtype: str | None) -> str:
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
    return f"{parquet_text(name, dtype)} as {name}, if({name} is null, null, '{kind}') as {name}_t"


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> Envelope:
    describe = con.execute(f"describe select * from read_parquet({sql_literal(str(path))})")
    types = {name: dtype for name, dtype, *_ in describe.fetchall()}
    items = ", ".join(_parquet_field(f, types.get(f)) for f in SCALARS)
    # An absent column is NULL on every row, as fixed as a typed one.
    column_types = {f: _parquet_kind(types[f]) if f in types else "NULL" for f in SCALARS}
    # a typed object is as good as JSON text
    json_text = {f: parquet_text(f, types.get(f)) for f in ("properties", "context")}
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
               {", ".join(f"{f}, {f}_t" for f in SCALARS)},
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


def rejected_source_sql(con: duckdb.DuckDBPyConnection, fmt: str, path: Path) -> str:
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
        f"{parquet_text('context', types.get('context'))} as context, "
        f"{parquet_text('occurred_at', types.get('occurred_at'))} as occurred_at "
        f"from read_parquet({sql_literal(str(path))}, file_row_number = true) "
        f"where file_row_number + 1 {wanted}"
    )
