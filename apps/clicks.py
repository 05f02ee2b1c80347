"""A learner's click on a recommendation in the app, recorded the way the platform's own clicks
reach Pathwise: a `rec_click` event of the contract (pathwise/contract.py) in a batch file under
`$PATHWISE_HOME/landing/app/events/`, which the next nightly ingest loads like any platform file
(validated, keyed, de-duplicated).

The app knows a learner only by learner_key, never the platform's user id, so the event's
`user_id` is `privacy.app_user_id`: the learner_key signed with the pseudonym key, which
ingestion keys back to exactly that learner_key. No platform id is needed, held or written.

One file per click, written under a temporary name and renamed, so ingestion never reads half
a file; names sort by time (docs/events.md: files load in name order).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pathwise.contract import SCHEMA_VERSION
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
    settings = get_settings()
    now = datetime.now(UTC)
    event = {
        "event_id": f"app-click-{uuid.uuid4().hex}",
        "event_type": "rec_click",
        "occurred_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user_id": app_user_id(learner_key, settings.pseudonym_key.get_secret_value()),
        "course_id": course_id,
        "schema_version": SCHEMA_VERSION,
        "properties": {
            "rec_id": rec_id(snapshot_version, learner_key, rank),
            "position": int(rank),
            "model_version": model_version,
        },
    }
    folder = events_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"clicks-{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.ndjson"
    part = path.with_name(path.name + ".part")  # not an event file name: ingestion skips it
    part.write_text(json.dumps(event) + "\n")
    os.replace(part, path)
    return path
