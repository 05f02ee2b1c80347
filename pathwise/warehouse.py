"""Opening the warehouse and the identity vault, each encrypted at rest with its own key when set.

`PATHWISE_WAREHOUSE_KEY` encrypts the warehouse, `PATHWISE_VAULT_KEY` the vault: someone who
holds the warehouse key (an analyst's dbt profile) cannot open the identities.

Both are DuckDB files under PATHWISE_HOME. Every connection starts in memory and ATTACHes the
files by name (`warehouse`, `vault`), so plain and encrypted files are used the same way, and
dbt sees the same database name (`warehouse`) in both of its targets.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pathwise.at_rest import private_dir
from pathwise.settings import Settings, get_settings
from pathwise.validation import sql_literal

# Tables that ingestion writes (and one the agents write for dbt). Everything here is pseudonymized:
# no user_id, no context.
RAW_DDL = """
create schema if not exists warehouse.raw;

-- `using compression {text}` / `{repeated}`: the methods DuckDB picks for these columns anyway,
-- named so that a load skips trying the others on every segment (a fifth of the insert's CPU).
-- Ids and JSON text compress with FSST; keys and codes that repeat in a row group with a
-- dictionary. See `_compression`: newer storage formats (encrypted files) have one method.
create table if not exists warehouse.raw.events (
    event_id        varchar   not null using compression {text},
    event_type      varchar   not null using compression {repeated},
    occurred_at     timestamp not null,  -- UTC
    -- HMAC-SHA256(user_id), see docs/privacy.md
    learner_key     varchar   not null using compression {repeated},
    -- HMAC-SHA256 of the platform's session id (its own domain), never the id as sent
    session_id      varchar   using compression {repeated},
    course_id       varchar   using compression {repeated},
    module_id       varchar   using compression {repeated},
    schema_version  integer   not null,
    -- JSON text: declared properties only, free text redacted
    properties      varchar   not null using compression {text},
    batch_id        varchar   not null using compression {repeated},
    loaded_at       timestamp not null
);

-- Ids of the fine-grained events kept as aggregates (essential ones are in raw.events), so that
-- a re-sent fine event is recognised. No learner, no behaviour: only what de-duplication needs.
create table if not exists warehouse.raw.event_ids (
    event_id     varchar   not null using compression {text},
    fingerprint  uhugeint  not null,
    occurred_at  timestamp not null,
    batch_id     varchar   not null using compression {repeated}
);

-- Fine-grained behaviour, aggregated at the door (learner x course x day); raw trails never land.
create table if not exists warehouse.raw.fine_signals_daily (
    learner_key     varchar not null,
    course_id       varchar not null,
    activity_date   date    not null,
    seeks           integer not null,
    rewinds         integer not null,
    skips           integer not null,
    pauses          integer not null,
    rewind_seconds  double  not null,
    skip_seconds    double  not null,
    batch_id        varchar not null
);

create table if not exists warehouse.raw.quarantined_events (
    batch_id          varchar   not null,
    source_file       varchar   not null,
    line_no           bigint    not null,  -- line in NDJSON, row in Parquet (1-based)
    reason            varchar   not null,
    detail            varchar,
    event_id          varchar,
    event_type        varchar,
    learner_key       varchar,
    payload_redacted  varchar,             -- pseudonymized, redacted, truncated copy
    -- every text column here is redacted and capped: detail 200, event_id 128, event_type 64
    quarantined_at    timestamp not null
);

create table if not exists warehouse.raw.ingest_batches (
    batch_id         varchar   not null primary key,  -- sha256 of the file's bytes
    source_file      varchar   not null,
    source_format    varchar   not null,
    received         bigint    not null,
    loaded           bigint    not null,  -- stored events + fine events aggregated
    aggregated       bigint    not null,  -- of loaded: fine events kept only as daily counts
    duplicates       bigint    not null,
    quarantined      bigint    not null,
    consent_dropped  bigint    not null,
    started_at       timestamp not null,
    finished_at      timestamp not null,
    contract_version integer   not null,
    check (received = loaded + duplicates + quarantined + consent_dropped)
);
-- Of loaded: stored events whose undeclared properties were dropped (added later).
alter table warehouse.raw.ingest_batches
    add column if not exists undeclared_dropped bigint default 0;

-- The platform's catalog (docs/catalog.md), replaced per course on each load.
create table if not exists warehouse.raw.catalog_courses (
    course_id       varchar not null primary key,
    title           varchar not null,
    description     varchar,
    category        varchar,
    difficulty      integer,  -- 1 beginner, 2 intermediate, 3 advanced
    instructor_id   varchar,
    language        varchar,
    primary_format  varchar,  -- video | reading | hands-on
    loaded_at       timestamp not null
);
create table if not exists warehouse.raw.catalog_modules (
    course_id         varchar not null,
    module_id         varchar not null,
    position          integer not null,
    title             varchar,
    duration_minutes  double,
    format            varchar,
    loaded_at         timestamp not null,
    due_day           double,  -- days after the learner's course clock starts; added later
    primary key (course_id, module_id)
);
-- Warehouses created before due_day existed gain it (last, as in a new table).
alter table warehouse.raw.catalog_modules add column if not exists due_day double;
create table if not exists warehouse.raw.catalog_course_skills (
    course_id  varchar not null,
    skill      varchar not null,
    loaded_at  timestamp not null
);
create table if not exists warehouse.raw.catalog_course_prerequisites (
    course_id               varchar not null,
    prerequisite_course_id  varchar not null,
    loaded_at               timestamp not null
);
-- Metadata the review queue accepted (pathwise/metadata_queue.py), copied whole each night.
create table if not exists warehouse.raw.catalog_accepted_metadata (
    course_id      varchar not null,
    kind           varchar not null,  -- skill | difficulty | prerequisite | duration
    value          varchar not null,
    confidence     double not null,
    suggestion_id  bigint not null primary key,
    accepted_at    timestamptz not null
);

-- Course Q&A outcomes (pathwise/qa_outcomes.py): one row per answered question; no learner, no
-- question text, the day only.
create table if not exists warehouse.raw.qa_outcomes (
    outcome_id  varchar primary key,
    asked_on    date not null,
    course_id   varchar,
    scope       varchar not null,  -- course | catalog
    module      varchar,
    grade       varchar not null,  -- confident | closest | refused
    loaded_at   timestamptz not null
);

-- The recommendation log of every surface (pathwise/served_log.py): one row per served item.
create table if not exists warehouse.raw.served_recommendations (
    rec_id            varchar primary key,   -- '<response_id>-<rank>', echoed in rec_* events
    response_id       varchar not null,
    served_at         timestamp not null,  -- UTC
    learner_key       varchar not null,
    surface           varchar,
    cold_start        boolean not null,
    snapshot_version  varchar not null,
    model_version     varchar,
    controls_applied  integer[],
    course_id         varchar not null,
    rank              integer not null,
    score             double,
    boost             double,
    reason            varchar,
    format_first      varchar,
    source_file       varchar not null
);
-- Added with the one writer (last, as in a new table); older rows came from the API.
alter table warehouse.raw.served_recommendations add column if not exists served_via varchar;
alter table warehouse.raw.served_recommendations add column if not exists caller_kind varchar;
alter table warehouse.raw.served_recommendations add column if not exists caller_name varchar;
alter table warehouse.raw.served_recommendations add column if not exists caller_role varchar;
alter table warehouse.raw.served_recommendations add column if not exists caller_key_id varchar;
-- Each served item's score by signal: its contribution and the signal's blend weight.
create table if not exists warehouse.raw.served_recommendation_signals (
    rec_id        varchar not null,
    signal        varchar not null,
    response_id   varchar not null,
    served_at     timestamp not null,  -- UTC
    learner_key   varchar not null,
    contribution  double,
    weight        double,
    source_file   varchar not null,
    primary key (rec_id, signal)
);
create table if not exists warehouse.raw.served_log_files (
    file_name  varchar primary key,
    responses  bigint not null,
    items      bigint not null,
    loaded_at  timestamp not null
);

-- What the agent layer writes for dbt to read (source `agents`), created here so the first
-- build finds it before the agents ever ran. An aggregate: no learner_key, no count under k.
create schema if not exists warehouse.agents;
-- Skills the learners' path goals need that no catalog course teaches (agents/paths/nightly.py),
-- replaced whole by each nightly run of the `paths` agent.
create table if not exists warehouse.agents.uncovered_skill_demand (
    skill_name     varchar not null primary key,  -- as the taxonomy (O*NET) names it
    learner_count  bigint not null,               -- learners whose path lacks it (>= k)
    computed_at    timestamp not null             -- UTC, the agents run
);
"""

# The restricted side: the only place where user_id and original payloads live.
VAULT_DDL = """
create table if not exists vault.identities (
    learner_key  varchar   primary key,
    user_id      varchar   not null,
    first_seen   timestamp not null
);
create table if not exists vault.quarantine_originals (
    batch_id     varchar not null,
    line_no      bigint  not null,
    source_file  varchar not null,
    -- No key index: written once per batch, whole (see ingestion). ZSTD where the file's format
    -- has it: oversized originals shrink 40-fold and write faster than trying every method.
    payload      varchar using compression {large}
);
-- Erased learners (pathwise/rights): a keyed hash of the user_id in its own domain, neither the
-- id nor the learner_key. Ingestion drops (and counts) every event of a tombstoned user_id.
create table if not exists vault.erasure_tombstones (
    tombstone  varchar   primary key,
    erased_at  timestamp not null
);
-- Contact details (pathwise/contacts.py), only of learners who agreed to e-mail: the address
-- sealed (AES-GCM) on top of the vault's own encryption, read only at send time.
create table if not exists vault.contacts (
    learner_key    varchar   primary key,
    email_sealed   varchar   not null,
    timezone       varchar,               -- IANA name, for quiet hours; null: unknown
    agreed_at      timestamp not null
);
"""


def httpfs_extension_path() -> Path:
    """The httpfs extension shipped by the `duckdb-extension-httpfs` wheel.

    DuckDB needs it (for its OpenSSL AES) to write encrypted databases; loading it from the wheel
    keeps us offline instead of `INSTALL httpfs` from the internet.
    """
    import duckdb_extension_httpfs

    root = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    found = sorted(root.glob(f"v{duckdb.__version__}/httpfs.duckdb_extension"))
    if not found:
        raise RuntimeError(
            f"httpfs extension for duckdb {duckdb.__version__} not found under {root}; "
            "reinstall with `make install` so duckdb and duckdb-extension-httpfs match."
        )
    return found[0]


# A new plain vault is written in storage format v1.2 (read by DuckDB 1.2 and later), the first
# with ZSTD for text: the originals it keeps are whole payloads, oversized ones included.
# Encrypted files get a newer format anyway; the warehouse keeps DuckDB's default.
VAULT_STORAGE_VERSION = "v1.2.0"


def _attach(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    alias: str,
    key: str | None,
    ro: bool,
    storage_version: str | None = None,
) -> None:
    """ATTACH a DuckDB file, encrypted with `key` if given; `storage_version` applies when a plain
    file is created."""
    opts = []
    if key:
        opts.append("ENCRYPTION_KEY $key")
    elif storage_version and not ro and not path.exists():
        opts.append(f"STORAGE_VERSION '{storage_version}'")
    if ro:
        opts.append("READ_ONLY")
    clause = f" ({', '.join(opts)})" if opts else ""
    # ATTACH takes no bound parameters but the key: the path goes in as an escaped literal.
    try:
        con.execute(
            f"ATTACH {sql_literal(str(path))} AS {alias}{clause}", {"key": key} if key else {}
        )
    except duckdb.Error as exc:
        if "encrypt" not in str(exc) or "crypto module" in str(exc):
            raise
        setting = "PATHWISE_VAULT_KEY" if alias == "vault" else "PATHWISE_WAREHOUSE_KEY"
        hint = (
            " (a vault made before the vault had its own key was encrypted with "
            "PATHWISE_WAREHOUSE_KEY: set PATHWISE_VAULT_KEY to that value)"
            if alias == "vault"
            else ""
        )
        raise duckdb.InvalidInputException(
            f"{path} does not open with the key in force: set {setting} to the key it was "
            f"created with, or leave it unset for a plain file{hint}. DuckDB said: {exc}"
        ) from exc


def _compression(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, str]:
    """String compression methods for the DDL's `{text}`, `{repeated}` and `{large}` columns.

    Storage format v1.3 and later (DuckDB writes encrypted files in it) replaced FSST and
    Dictionary by one method, DICT_FSST, and refuses the old names; ZSTD came with v1.2."""
    version = con.execute(
        "select tags['storage_version'] from duckdb_databases() where database_name = $db",
        {"db": database},
    ).fetchall()[0][0]
    major, minor = (int(x) for x in re.findall(r"\d+", version or "v1.0")[:2])
    large = "zstd" if (major, minor) >= (1, 2) else "fsst"
    if (major, minor) >= (1, 3):
        return {"text": "dict_fsst", "repeated": "dict_fsst", "large": large}
    return {"text": "fsst", "repeated": "dictionary", "large": large}


def open_connection(
    *,
    vault: bool = False,
    read_only: bool = False,
    settings: Settings | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse (and optionally the vault) attached.

    The caller owns the connection; prefer `connect()` as a context manager.
    """
    s = settings or get_settings()
    private_dir(s.home)
    config: dict[str, str | bool | int | float | list[str]] = {}
    if s.threads:
        config["threads"] = s.threads
    if s.memory_limit:
        config["memory_limit"] = s.memory_limit
    con = duckdb.connect(":memory:", config=config)
    try:
        if s.encrypted or (vault and s.vault_encryption_key):
            con.execute(f"LOAD {sql_literal(str(httpfs_extension_path()))}")
        if read_only and not s.warehouse_path.exists():
            raise FileNotFoundError(
                f"No warehouse at {s.warehouse_path}. Run `pathwise ingest` (or `make demo`) first."
            )
        _attach(con, s.warehouse_path, "warehouse", s.encryption_key, read_only)
        if vault:  # its own key: the warehouse key never opens it
            key = s.vault_encryption_key
            _attach(con, s.vault_path, "vault", key, read_only, VAULT_STORAGE_VERSION)
        con.execute("USE warehouse")
        if not read_only:
            con.execute(RAW_DDL.format_map(_compression(con, "warehouse")))
            if vault:
                con.execute(VAULT_DDL.format_map(_compression(con, "vault")))
    except Exception:
        con.close()
        raise
    return con


@contextlib.contextmanager
def connect(
    *,
    vault: bool = False,
    read_only: bool = False,
    settings: Settings | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_connection(vault=vault, read_only=read_only, settings=settings)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Is there a table or view `warehouse.<schema>.<table>` (e.g. before the first dbt build)?"""
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_catalog = 'warehouse' "
            "and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every table in the warehouse, as `schema.table`."""
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'warehouse' and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    return {
        f"{s}.{t}": con.execute(f'select count(*) from warehouse."{s}"."{t}"').fetchall()[0][0]
        for s, t in tables
    }
