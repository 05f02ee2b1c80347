"""The read API: precomputed recommendations from the published snapshot, admin controls applied live.

    pathwise serve                          # http://127.0.0.1:8000/docs
    GET /v1/learners/{learner}/recommendations?k=10
    GET /health

`learner` is the platform's own user id (pseudonymized here with the same keyed HMAC as ingestion,
and never logged) or a learner_key (32 hex digits). Unknown learners get the cold-start list.

Serving never waits on the nightly rebuild: the snapshot is held in memory, a watcher thread loads a
newly published one beside it and swaps one reference, so each response comes whole from one version.
Boosts and suppressions are read from the controls store whenever it changes, so a saved control
applies to the next response. Every response is appended to the recommendation log
($PATHWISE_HOME/rec_log/*.ndjson) with its full context; the nightly flow loads it into the warehouse.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, ORJSONResponse

from pathwise import snapshots
from pathwise.controls import ControlWatcher, apply_controls, without_nightly_boost
from pathwise.privacy import KEY_HEX_DIGITS, pseudonym
from pathwise.settings import get_settings

log = logging.getLogger("pathwise.api")

LEARNER_KEY_RE = re.compile(rf"[0-9a-f]{{{KEY_HEX_DIGITS}}}")
MAX_K = 50
ROW_CACHE_LEARNERS = 50_000
ITEM_FIELDS = ("course_id", "title", "score", "reason", "format_first")


@dataclass
class ServingSnapshot:
    """One snapshot's recommendations in memory, indexed by learner."""

    version: str
    model_version: str | None
    recs: pl.DataFrame  # sorted by learner_key, rank
    offsets: dict[str, tuple[int, int]]  # learner_key -> (first row, rows)
    cold_start: list[dict]
    signals: list[str]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _rows: dict[str, list[dict]] = field(default_factory=dict)  # learners asked for lately

    @classmethod
    def load(cls, snap: snapshots.Snapshot) -> ServingSnapshot:
        if "recommendations" not in snap.tables:
            raise snapshots.SnapshotError(
                f"Snapshot {snap.version} holds no recommendations: run `pathwise nightly`."
            )
        con = snap.connect()
        try:
            # Titles joined once here, so a response needs no lookup.
            recs = con.sql(
                "select r.*, c.course_title as title from recommendations r "
                "left join courses c using (course_id) order by r.learner_key, r.rank"
            ).pl()
            cold = (
                con.sql(
                    "select r.*, c.course_title as title from recommendations_cold_start r "
                    "left join courses c using (course_id) order by r.rank"
                ).pl()
                if "recommendations_cold_start" in snap.tables
                else pl.DataFrame()
            )
        finally:
            con.close()
        recs, cold = _json_ready(recs), _json_ready(cold)
        index = (
            recs.with_row_index("row")
            .group_by("learner_key", maintain_order=True)
            .agg(pl.col("row").min().alias("first"), pl.len().alias("n"))
        )
        offsets = dict(
            zip(index["learner_key"], zip(index["first"], index["n"], strict=True), strict=True)
        )
        signals = [c.removeprefix("contrib_") for c in recs.columns if c.startswith("contrib_")]
        return cls(
            version=snap.version,
            model_version=snap.manifest.get("model_versions", {}).get("recommendations"),
            recs=recs,
            offsets=offsets,
            cold_start=without_nightly_boost(cold.to_dicts()),
            signals=signals,
        )

    def candidates(self, learner_key: str) -> tuple[list[dict], bool]:
        """The learner's candidate rows, or the cold-start list (flag True) for unknown learners."""
        rows = self._rows.get(learner_key)
        if rows is None:
            found = self.offsets.get(learner_key)
            if found is None:
                return self.cold_start, True
            rows = without_nightly_boost(self.recs.slice(found[0], found[1]).to_dicts())
            if len(self._rows) >= ROW_CACHE_LEARNERS:  # bounded: forget the oldest half
                for key in list(self._rows)[: ROW_CACHE_LEARNERS // 2]:
                    del self._rows[key]
            self._rows[learner_key] = rows
        return rows, False


class SnapshotWatcher:
    """Keeps the newest published snapshot loaded; swaps it in whole when CURRENT changes."""

    def __init__(self, poll_s: float = 0.25) -> None:
        self.poll_s = poll_s
        self.serving: ServingSnapshot | None = None
        self.problem: str | None = "no snapshot loaded yet"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot-watcher", daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> None:
        snap = snapshots.current()
        if snap is None:
            self.problem = (
                "No serving snapshot published yet: run `pathwise nightly` (or `make demo`)."
            )
            return
        if self.serving is not None and self.serving.version == snap.version:
            return
        try:
            loaded = ServingSnapshot.load(snap)
        except Exception as exc:  # keep serving the old one; /health says why
            self.problem = f"snapshot {snap.version} not loaded: {exc}"
            log.error(self.problem)
            return
        self.serving, self.problem = loaded, None  # one reference swap: readers see old or new
        log.info("serving snapshot %s", loaded.version)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.refresh()


class RecommendationLog:
    """Appends every served response to hourly NDJSON files, off the request path."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._queue: queue.SimpleQueue[dict | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="rec-log", daemon=True)
        self._thread.start()

    def write(self, entry: dict) -> None:
        self._queue.put(entry)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get())
            if None in batch:
                done = True
                batch = [e for e in batch if e is not None]
            by_file: dict[Path, list[bytes]] = {}
            for entry in batch:
                name = f"served-{entry['served_at'][:13].replace('T', '-')}.ndjson"
                by_file.setdefault(self.folder / name, []).append(orjson.dumps(entry))
            for path, lines in by_file.items():
                with path.open("ab") as f:
                    f.write(b"\n".join(lines) + b"\n")


def _json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals (DuckDB's type for literals like 0.5) as floats, so responses serialize."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))


def _learner_key(learner: str) -> str:
    if LEARNER_KEY_RE.fullmatch(learner):
        return learner
    return pseudonym(learner, get_settings().pseudonym_key.get_secret_value())


def _clean(row: dict, signals: list[str]) -> dict:
    item = {f: row.get(f) for f in ITEM_FIELDS}
    item["rank"] = row["rank"]
    item["contributions"] = {s: row.get(f"contrib_{s}") for s in signals if f"contrib_{s}" in row}
    if row.get("boost"):
        item["boost"] = row["boost"]
    return item


def create_app(*, watch: bool = True) -> FastAPI:
    """The API; `watch=False` loads the snapshot once (tests call `app.state.snapshots.refresh()`)."""
    settings = get_settings()
    watcher = SnapshotWatcher()
    controls = ControlWatcher()
    rec_log = RecommendationLog(settings.rec_log_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher.start() if watch else watcher.refresh()
        yield
        watcher.stop()
        rec_log.close()
        controls.close()

    app = FastAPI(
        title="Pathwise read API",
        description="Precomputed, explained course recommendations with live admin controls.",
        version="1",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    app.state.snapshots = watcher

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "bad request", "problems": problems}, status_code=400)

    @app.get("/health")
    async def health() -> JSONResponse:
        serving = watcher.serving
        body = {
            "status": "ok" if serving else "unavailable",
            "snapshot_version": serving and serving.version,
            "model_version": serving and serving.model_version,
            "learners": serving and len(serving.offsets),
            "problem": watcher.problem,
        }
        return JSONResponse(body, status_code=200 if serving else 503)

    @app.get("/v1/learners/{learner}/recommendations")
    async def recommendations(
        learner: str = PathParam(
            min_length=1, max_length=200, description="Platform user id or learner_key."
        ),
        k: int = Query(10, ge=1, le=MAX_K, description=f"How many courses (1-{MAX_K})."),
        surface: str = Query("home", max_length=50, description="Where the list is shown."),
    ) -> JSONResponse:
        serving = watcher.serving  # one snapshot for the whole response
        if serving is None:
            return JSONResponse({"error": watcher.problem}, status_code=503)
        learner_key = _learner_key(learner)
        candidates, cold = serving.candidates(learner_key)
        top, applied = apply_controls(candidates, controls.in_force().controls, k)
        response_id = uuid.uuid4().hex
        items = [
            {"rec_id": f"{response_id}-{r['rank']}", **_clean(r, serving.signals)} for r in top
        ]
        served_at = datetime.now(UTC).isoformat()
        body = {
            "learner_key": learner_key,
            "response_id": response_id,
            "snapshot_version": serving.version,
            "model_version": serving.model_version,
            "cold_start": cold,
            "controls_applied": applied,
            "surface": surface,
            "served_at": served_at,
            "items": items,
        }
        rec_log.write(body)
        return ORJSONResponse(body)

    return app
