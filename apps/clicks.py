"""What a learner does in the app, recorded the way the platform's own events reach Pathwise: a
click on a recommendation (`rec_click`) or a consent change (`consent_changed`, from the "How
Pathwise uses your data" page) as an event of the contract (pathwise/contract.py) in a batch file
under `$PATHWISE_HOME/landing/app/events/`, which the next nightly ingest loads like any platform
file (validated, keyed, de-duplicated).

The app knows a learner only by learner_key, never the platform's user id, so the event's
`user_id` is `privacy.app_user_id`: the learner_key signed with the pseudonym key, which
ingestion keys back to exactly that learner_key. No platform id is needed, held or written.

One file per event, written under a temporary name and renamed, so ingestion never reads half
a file; names sort by time (docs/events.md: files load in name order).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pathwise.contract import SCHEMA_VERSION, ConsentScope
from pathwise.privacy import app_user_id
from pathwise.settings import get_settings

SOURCE = "app"  # the landing folder of events the app writes: landing/app/events/


def events_dir() -> Path:
    return get_settings().landing_dir / SOURCE / "events"


def rec_id(snapshot_version: str, learner_key: str, rank: int) -> str:
    """The id of one shown recommendation: the same for the same list, distinct across learners
    and snapshots, and holding no id (a hash of the learner_key, not the key itself)."""
    digest = hashlib.sha256(f"{snapshot_version}\x1f{learner_key}".encode()).hexdigest()[:16]
    return f"app-{digest}-{rank}"


def record_click(
    learner_key: str, course_id: str, rank: int, model_version: str, snapshot_version: str
) -> Path:
    """Write one `rec_click` for the learner's recommendation at `rank`; returns the file."""
    properties = {
        "rec_id": rec_id(snapshot_version, learner_key, rank),
        "position": int(rank),
        "model_version": model_version,
    }
    return _write(learner_key, "rec_click", properties, course_id=course_id, kind="click")


def record_consent(learner_key: str, scope: ConsentScope | str, granted: bool) -> Path:
    """Write one `consent_changed`: a tier granted or withdrawn, or (scope `personalization`,
    granted False) an objection to profiling; returns the file."""
    properties = {"tier": ConsentScope(scope).value, "granted": bool(granted)}
    return _write(learner_key, "consent_changed", properties, kind="consent")


def _write(
    learner_key: str, event_type: str, properties: dict, *, kind: str, course_id: str | None = None
) -> Path:
    settings = get_settings()
    now = datetime.now(UTC)
    event = {
        "event_id": f"app-{kind}-{uuid.uuid4().hex}",
        "event_type": event_type,
        "occurred_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user_id": app_user_id(learner_key, settings.pseudonym_key.get_secret_value()),
        "course_id": course_id,
        "schema_version": SCHEMA_VERSION,
        "properties": properties,
    }
    folder = events_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"app-{now:%Y%m%dT%H%M%S%fZ}-{kind}-{uuid.uuid4().hex[:8]}.ndjson"
    part = path.with_name(path.name + ".part")  # not an event file name: ingestion skips it
    part.write_text(json.dumps(event) + "\n")
    os.replace(part, path)
    return path
