"""The read API: precomputed recommendations from the published snapshot, admin controls applied live.

    pathwise keys create platform --role service    # prints a key once: keep it secret
    pathwise serve                                  # http://127.0.0.1:8000/docs
    GET /v1/learners/{learner}/recommendations?k=10&id_kind=user_id
        Authorization: Bearer pw_...
    GET /v1/learners/{learner}/nudges?days=30     # the agents' in-app nudges (agents/)
    GET /v1/learners/{learner}/path               # the learning path, its goal and change log
    POST /v1/learners/{learner}/onboarding  {"text": "I want to become a data analyst"}
    GET /health

Every endpoint but /health (and the API's own description, /docs) needs a key, checked before any
learner is looked up; what each kind of key may do is the authorization matrix in `apps/access.py`:
a `service` key any learner (rate-limited per key: 429 beyond `PATHWISE_API_RATE_LIMIT_PER_MINUTE`),
a `learner` key only its own learner (403 for others), an `admin` key everything.

`learner` is the platform's own user id (`id_kind=user_id`, the default; pseudonymized here with the
same keyed HMAC as ingestion, and never logged or answered) or a learner_key (`id_kind=learner_key`,
32 hex digits). Unknown learners get the cold-start list.

Serving never waits on the nightly rebuild: the snapshot is held in memory, a watcher thread loads a
newly published one beside it and swaps one reference, so each response comes whole from one version.
Boosts and suppressions are read from the controls store whenever it changes, so a saved control
applies to the next response. Every response is logged through the one recommendation writer
(`pathwise/served_log.py`) with its full context (contributions, blend weights, versions, the calling
key); the nightly flow loads the log into the warehouse.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, ORJSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.paths.serving import Served as PathAgentServed
from apps.access import ALLOW, DENY, OWN, access_for
from pathwise import served_log, snapshots
from pathwise.api_keys import ApiKey, KeyStore, RateLimiter
from pathwise.controls import ControlWatcher, apply_controls, without_nightly_boost
from pathwise.learning_paths import PathStore
from pathwise.outbox import Outbox
from pathwise.privacy import KEY_HEX_DIGITS, pseudonym
from pathwise.settings import get_settings

log = logging.getLogger("pathwise.api")

LEARNER_KEY_RE = re.compile(rf"[0-9a-f]{{{KEY_HEX_DIGITS}}}")
MAX_K = 50
ROW_CACHE_LEARNERS = 50_000
ITEM_FIELDS = ("course_id", "title", "score", "reason", "format_first")
IdKind = Literal["user_id", "learner_key"]
LearnerPath = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=200,
        description="The platform's user id, or a learner_key: say which in `id_kind`.",
    ),
]
IdKindQuery = Annotated[
    IdKind,
    Query(
        description="What `learner` is: the platform's `user_id` (pseudonymized here, never "
        f"answered back) or a `learner_key` ({KEY_HEX_DIGITS} hex digits)."
    ),
]
# The contract's surfaces (pathwise.contract.SURFACES): a closed list, so no free text is logged.
Surface = Literal["home", "course_page", "catalog", "search", "email", "push", "in_app", "other"]


@dataclass
class ServingSnapshot:
    """One snapshot's recommendations in memory, indexed by learner."""

    version: str
    model_version: str | None
    recs: pl.DataFrame  # sorted by learner_key, rank
    offsets: dict[str, tuple[int, int]]  # learner_key -> (first row, rows)
    cold_start: list[dict]
    weights: dict[str, float]  # the blend weights the scores were made with (logged per list)
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
            weights = (
                dict(con.execute(served_log.WEIGHTS_SQL).fetchall())
                if "recommendation_signals" in snap.tables
                else {}
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
        return cls(
            version=snap.version,
            model_version=snap.manifest.get("model_versions", {}).get("recommendations"),
            recs=recs,
            offsets=offsets,
            cold_start=without_nightly_boost(cold.to_dicts()),
            weights=weights,
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


def _json_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals (DuckDB's type for literals like 0.5) as floats, so responses serialize."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))


def _clean(row: dict) -> dict:
    item = {f: row.get(f) for f in ITEM_FIELDS}
    item["rank"] = row["rank"]
    item["contributions"] = served_log.contributions(row)
    if row.get("boost"):
        item["boost"] = row["boost"]
    return item


RESPONSE_FIELDS = (
    "response_id",
    "snapshot_version",
    "model_version",
    "cold_start",
    "controls_applied",
    "surface",
    "served_at",
)


def _response(
    serving: ServingSnapshot,
    controls: list,
    learner_key: str,
    k: int,
    surface: str,
    caller: ApiKey,
) -> tuple[dict, dict]:
    """(the answer, its log record): the learner's top k from one snapshot with the controls in
    force applied, logged as answered."""
    candidates, cold = serving.candidates(learner_key)
    top, applied = apply_controls(candidates, controls, k)
    shown = [_clean(r) for r in top]
    record = served_log.served_list(
        learner_key=learner_key,
        served_via="api",
        caller=served_log.Caller.of_api_key(caller),
        snapshot_version=serving.version,
        model_version=serving.model_version,
        weights=serving.weights,
        items=shown,
        surface=surface,
        cold_start=cold,
        controls_applied=applied,
        served_at=datetime.now(UTC),  # the API's clock (tests freeze it)
    )
    body = {f: record[f] for f in RESPONSE_FIELDS}
    body["items"] = [
        {"rec_id": logged["rec_id"], **item}
        for logged, item in zip(record["items"], shown, strict=True)
    ]
    return body, record


class Problem(BaseModel):
    """An error answer: what went wrong and, where it helps, each problem with the request."""

    error: str
    problems: list[str] | None = None


def _problem(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": description}}


AUTH_RESPONSES = {  # what every route behind a key may answer besides 200
    **_problem(400, "A parameter is missing, wrong or unknown: `problems` says which."),
    **_problem(401, "No key, or not a valid one: `pathwise keys create`."),
    **_problem(403, "The key may not ask this (see apps/access.py)."),
    **_problem(429, "This key's rate limit: retry after `Retry-After` seconds."),
}
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="api_key",
    description="A key from `pathwise keys create <name> --role service|learner|admin`.",
)


class Guard:
    """Authenticates the caller's key, counts it against its rate limit, applies the matrix."""

    def __init__(self, keys: KeyStore, per_minute: int) -> None:
        self.keys = keys
        self.limiter = RateLimiter(per_minute)

    def caller(self, resource: str, token: str | None) -> ApiKey | None:
        """The caller's key if `resource` ("GET /path") is open to it, else 401, 429 or 403."""
        rule = access_for(resource)
        key = self.keys.authenticate(token) if token else None
        if rule["anonymous"] == ALLOW:
            return key
        if key is None:
            raise HTTPException(
                401,
                "a valid API key is needed: Authorization: Bearer <key> "
                "(create one with `pathwise keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        wait = self.limiter.retry_after(key.key_id)
        if wait:
            raise HTTPException(
                429,
                "rate limit of this key reached; retry later",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        if rule[key.role] == DENY:
            raise HTTPException(403, f"a {key.role} key may not use {resource}")
        return key

    @staticmethod
    def check_own(resource: str, caller: ApiKey, learner_key: str) -> None:
        """403 unless the caller may ask about this learner (OWN: only its own learner_key)."""
        if access_for(resource)[caller.role] == OWN and not hmac.compare_digest(
            learner_key, caller.learner_key or ""
        ):
            raise HTTPException(403, f"a {caller.role} key may only ask about its own learner")


def _resource(request: Request) -> str:
    """The matrix's name of the route serving this request, e.g. "GET /v1/keys"."""
    return f"{request.method} {request.scope['route'].path}"


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ApiKey:
    guard: Guard = request.app.state.guard
    key = guard.caller(_resource(request), credentials.credentials if credentials else None)
    if key is None:  # a route open to anonymous callers has no Caller to give
        raise RuntimeError(f"{_resource(request)} is open to anyone: do not ask for a Caller")
    # Only now (a stranger gets a 401 for anything): a misspelt parameter is a 400, not ignored,
    # so `?idkind=learner_key` cannot silently pseudonymize a learner_key as a user id.
    unknown = sorted(set(request.query_params) - _query_names(request.scope["route"]))
    if unknown:
        raise RequestValidationError(
            [{"loc": ("query", n), "msg": "not a parameter of this endpoint"} for n in unknown]
        )
    return key


def _query_names(route: APIRoute) -> set[str]:
    """The query parameters `route` and its dependencies declare (a walk of a few nodes)."""
    names, todo = set(), [route.dependant]
    while todo:
        dependant = todo.pop()
        names |= {p.alias for p in dependant.query_params}
        todo += dependant.dependencies
    return names


Caller = Annotated[ApiKey, Depends(_caller)]


def _learner_key(learner: str, id_kind: IdKind) -> str:
    """The learner asked about, as a learner_key (a bad learner_key is a 400)."""
    if id_kind == "learner_key":
        if not LEARNER_KEY_RE.fullmatch(learner):
            raise RequestValidationError(
                [
                    {
                        "loc": ("path", "learner"),
                        "msg": f"a learner_key is {KEY_HEX_DIGITS} hex digits",
                    }
                ]
            )
        key = learner
    else:
        key = pseudonym(learner, get_settings().pseudonym_key.get_secret_value())
    return key


def _answer_problems(app: FastAPI) -> None:
    """Errors as `Problem` bodies; a bad parameter is a 400 that says which and why."""

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "bad request", "problems": problems}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    def openapi() -> dict[str, Any]:
        # FastAPI documents a 422 for parameter errors; this API answers them 400 (a Problem).
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema["paths"].values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    if responses.pop("422", None) is not None and "400" not in responses:
                        raise RuntimeError(
                            f"{operation['operationId']} takes parameters: document its 400 "
                            "(responses=AUTH_RESPONSES, or _problem(400, ...))"
                        )
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_health(app: FastAPI, watcher: SnapshotWatcher) -> None:
    """`GET /health`: open to anyone (load balancers), says only what is served."""

    @app.get("/health", responses={503: {"description": "No snapshot served yet: `problem`."}})
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


def _add_keys(app: FastAPI, guard: Guard) -> None:
    """`GET /v1/keys` (admins): who may call this API."""

    @app.get("/v1/keys", responses=AUTH_RESPONSES)
    async def keys(
        caller: Caller,
    ) -> JSONResponse:
        """The API keys (never their secrets or hashes): who may call this API."""
        fields = ("key_id", "name", "role", "learner_key", "created_at", "revoked_at")
        return JSONResponse([{f: getattr(k, f) for f in fields} for k in guard.keys.list()])


def _add_nudges(app: FastAPI, guard: Guard) -> None:
    """`GET /v1/learners/{learner}/nudges`: the in-app channel of the agents (agents/channels.py).
    Read from the outbox (SQLite in WAL mode: the delivery worker may write meanwhile)."""
    outbox = Outbox()

    @app.get("/v1/learners/{learner}/nudges", responses=AUTH_RESPONSES)
    async def nudges(
        request: Request,
        caller: Caller,
        learner: LearnerPath,
        id_kind: IdKindQuery = "user_id",
        days: int = Query(30, ge=1, le=365, description="Nudges sent in the last `days` days."),
    ) -> JSONResponse:
        """The learner's in-app nudges, newest first: text, course, and why it was sent."""
        learner_key = _learner_key(learner, id_kind)
        guard.check_own(_resource(request), caller, learner_key)
        since = datetime.now(UTC) - timedelta(days=days)
        fields = ("message_id", "agent", "course_id", "subject", "body", "reason")
        items = [
            {**{f: getattr(m, f) for f in fields}, "sent_at": m.sent_at and m.sent_at.isoformat()}
            for m in outbox.inbox(learner_key, since)
        ]
        return JSONResponse({"nudges": items})


class OnboardingTurn(BaseModel):
    """What the learner said; leave `text` out to get the question the conversation is at."""

    text: str | None = Field(None, max_length=2000, examples=["I want to become a data analyst"])


def _add_learning_paths(app: FastAPI, guard: Guard) -> None:
    """The learning-path agent (agents/paths/): a learner's path, and onboarding turn by turn.
    Both read and write the path store (SQLite in WAL mode: the nightly re-plan writes too);
    the agent's knowledge (O*NET roles, ~5 s to load) is loaded on the first turn. Plain `def`
    handlers: FastAPI runs them in its thread pool, so a turn never holds up other requests."""
    store = PathStore()
    served = PathAgentServed(store)

    @app.get("/v1/learners/{learner}/path", responses=AUTH_RESPONSES)
    def learning_path(
        request: Request, caller: Caller, learner: LearnerPath, id_kind: IdKindQuery = "user_id"
    ) -> JSONResponse:
        """The learner's path (steps on a calendar, why each is there, skills no course teaches),
        their goal, why the path changed (newest first), and where onboarding is (`null`: never
        started). `path` is `null` until onboarding has finished."""
        learner_key = _learner_key(learner, id_kind)
        guard.check_own(_resource(request), caller, learner_key)
        return JSONResponse(store.view(learner_key))

    @app.post(
        "/v1/learners/{learner}/onboarding",
        responses={**AUTH_RESPONSES, **_problem(503, "No snapshot served yet.")},
    )
    def onboarding(
        request: Request,
        caller: Caller,
        learner: LearnerPath,
        turn: OnboardingTurn | None = None,
        id_kind: IdKindQuery = "user_id",
    ) -> JSONResponse:
        """One turn of the onboarding conversation: the agent's reply, the step reached
        (goal, role, skills, hours, target, format, done) and, once done, the path. Say
        "start over" to change the goal."""
        learner_key = _learner_key(learner, id_kind)
        guard.check_own(_resource(request), caller, learner_key)
        snap = snapshots.current()
        if snap is None:
            return JSONResponse({"error": "No serving snapshot published yet."}, status_code=503)
        return JSONResponse(served.turn(snap, learner_key, turn and turn.text))


def _require_access_rules(app: FastAPI) -> None:
    """Fail closed: a route missing from the authorization matrix stops start-up."""
    for route in app.routes:
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            access_for(f"{method} {getattr(route, 'path', '')}")


def create_app(*, watch: bool = True) -> FastAPI:
    """The API; `watch=False` loads the snapshot once (tests call `app.state.snapshots.refresh()`)."""
    settings = get_settings()
    watcher = SnapshotWatcher()
    controls = ControlWatcher()
    rec_log = served_log.BackgroundWriter()
    guard = Guard(KeyStore(), settings.api_rate_limit_per_minute)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        watcher.start() if watch else watcher.refresh()
        yield
        watcher.stop()
        rec_log.close()
        controls.close()

    app = FastAPI(
        title="Pathwise read API",
        description="Precomputed, explained course recommendations with live admin controls. "
        "Every endpoint but /health needs `Authorization: Bearer <key>`: create a key with "
        "`pathwise keys create <name> --role service|learner|admin`.",
        version="1",
        default_response_class=ORJSONResponse,
        lifespan=lifespan,
    )
    app.state.snapshots, app.state.guard = watcher, guard
    _answer_problems(app)

    _add_health(app, watcher)

    @app.get(
        "/v1/learners/{learner}/recommendations",
        responses={**AUTH_RESPONSES, **_problem(503, "No snapshot served yet.")},
    )
    async def recommendations(
        request: Request,
        caller: Caller,
        learner: LearnerPath,
        id_kind: IdKindQuery = "user_id",
        k: int = Query(10, ge=1, le=MAX_K, description=f"How many courses (1-{MAX_K})."),
        surface: Annotated[Surface, Query(description="Where the list is shown.")] = "home",
    ) -> JSONResponse:
        learner_key = _learner_key(learner, id_kind)
        guard.check_own(_resource(request), caller, learner_key)
        serving = watcher.serving  # one snapshot for the whole response
        if serving is None:
            return JSONResponse({"error": watcher.problem}, status_code=503)
        body, record = _response(
            serving, controls.in_force().controls, learner_key, k, surface, caller
        )
        # The log (never the caller) gets the learner_key: a raw id sent is not answered with it.
        rec_log.write(record)
        return ORJSONResponse(body)

    _add_keys(app, guard)
    _add_nudges(app, guard)
    _add_learning_paths(app, guard)
    _require_access_rules(app)
    return app
