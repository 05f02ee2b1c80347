"""Step 6 of a batch: the vault first (idempotent upserts), then every warehouse table in ONE
transaction, with the `raw.ingest_batches` row whose check constraint enforces
received = loaded + duplicates + quarantined + consent_dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from pathwise.contract import FINE_EVENT_TYPES, SCHEMA_VERSION
from pathwise.ingestion.classify import VALID, fingerprint, stored_properties
from pathwise.privacy import APP_ID_PREFIX
from pathwise.validation import sql_list

if TYPE_CHECKING:
    from pathwise.ingestion import BatchResult


def write(con: duckdb.DuckDBPyConnection, batch: BatchResult, started: datetime) -> None:
    """The vault, then the warehouse in one transaction (a crash in between leaves the vault
    holding rows a re-run inserts again as no-ops, and the warehouse nothing)."""
    _vault(con, batch, started)
    con.begin()
    try:
        _warehouse(con, batch, started)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _vault(con: duckdb.DuckDBPyConnection, batch: BatchResult, started: datetime) -> None:
    """Identities and quarantined originals, idempotently: a re-run inserts nothing new here."""
    # An id the app minted (privacy.app_user_id) is not the learner's platform identity: the
    # platform's id, in this batch or a later one, is what the vault must map the key to.
    con.execute(
        "insert into vault.identities select learner_key, user_id, $now from keys "
        f"where not starts_with(user_id, '{APP_ID_PREFIX}') on conflict do nothing",
        {"now": started},
    )
    # One statement, so a batch's originals are in the vault whole or not at all.
    con.execute(
        "insert into vault.quarantine_originals "
        "select $batch, line_no, $src, original from quarantine "
        "where not exists (select 1 from vault.quarantine_originals where batch_id = $batch)",
        {"batch": batch.batch_id, "src": batch.source_file},
    )


def _warehouse(con: duckdb.DuckDBPyConnection, batch: BatchResult, started: datetime) -> None:
    """Events, fine-signal aggregates, quarantine copies and the batch's reconciling row."""
    params = {"batch": batch.batch_id, "src": batch.source_file, "now": started}
    con.execute(
        f"""
        insert into warehouse.raw.events
        select c.event_id, c.event_type, c.ts, k.learner_key, s.session_key, c.course_id,
               c.module_id, c.schema_version::integer, {stored_properties()}, $batch, $now
        from {VALID}
        anti join (select line_no from dup_fates where fate is not null) d using (line_no)
        where c.problem is null and c.event_type not in {sql_list(FINE_EVENT_TYPES)}
        """,
        {"batch": batch.batch_id, "now": started},
    )
    con.execute(
        f"insert into warehouse.raw.event_ids select event_id, "
        f"{fingerprint('occurred_at', 'properties')}, occurred_at, $batch "
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
        "$consent_dropped, $now, $finished, $version, $undeclared_dropped)",
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
            "undeclared_dropped": batch.undeclared_dropped,
        },
    )
