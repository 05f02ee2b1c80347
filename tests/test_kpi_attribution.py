"""KPIs by the model version that produced the list the learner saw, end to end.

On a copy of the shared app platform (tests/_app_platform.py: one real nightly run), a platform
integrated with the read API fetches its learners' lists on 23 February (model version A, the
published one), an admin saves new blend weights, the recommender runs and publishes version B,
and the platform fetches lists again on 24 February. Its impression events carry its own label
(the simulator's `pop-baseline-2025.11`), as real platforms' do: half its learners' events echo
the served item ids, the other half only the platform's own list ids (attributed to the
learner's latest served list). A third group sees the platform's own lists only. Then the real
nightly flow ingests the events and the served log, builds with dbt and publishes: the KPIs must
split by served version exactly as the test served and clicked, and reconcile with the log.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from _app_platform import build as build_app_platform
from fastapi.testclient import TestClient

from pathwise import snapshots
from pathwise.settings import get_settings
from pathwise.sources.simulator.platform import MODEL_VERSION as PLATFORM_LABEL

pytestmark = pytest.mark.slow

DAYS = (datetime(2026, 2, 23, 9, 0, tzinfo=UTC), datetime(2026, 2, 24, 8, 0, tzinfo=UTC))
APPS = Path(__file__).resolve().parent.parent / "apps"
GROUP = 12  # learners per group: above k = 10, so no KPI row is left out


@dataclasses.dataclass
class Truth:
    """What the platform did, counted per model version (from the API's own answers)."""

    impressions: Counter = dataclasses.field(default_factory=Counter)
    by_id: Counter = dataclasses.field(default_factory=Counter)
    by_recency: Counter = dataclasses.field(default_factory=Counter)
    clicks: Counter = dataclasses.field(default_factory=Counter)
    enrolments: Counter = dataclasses.field(default_factory=Counter)
    completions: Counter = dataclasses.field(default_factory=Counter)
    served: Counter = dataclasses.field(default_factory=Counter)
    versions: list[str] = dataclasses.field(default_factory=list)


class FrozenClock(datetime):
    """`datetime` for the read API whose `now()` is the simulated day's time."""

    at = DAYS[0]

    @classmethod
    def now(cls, tz=None):  # the API always asks for UTC
        return cls.at


def learners(home: Path, n: int) -> list[str]:
    """`n` platform user ids whose learners share the largest segment (one KPI row per day)."""
    from pathwise.privacy import pseudonym

    key = get_settings().pseudonym_key.get_secret_value()
    events = home / "landing" / "sim" / "events" / "*.parquet"
    users = [
        r[0]
        for r in duckdb.connect()
        .sql(f"select distinct user_id from '{events}' where user_id is not null order by 1")
        .fetchall()
    ]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        segment = dict(
            con.sql(
                "select learner_key, role_family from intermediate.int_learners_segmented"
            ).fetchall()
        )
    finally:
        con.close()
    largest = Counter(segment.values()).most_common(1)[0][0]
    chosen = [u for u in users if segment.get(pseudonym(u, key)) == largest][:n]
    assert len(chosen) == n, f"the shared platform has too few learners in {largest!r}"
    return chosen


def event(kind: str, user: str, at: datetime, course: str, **props) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": kind,
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "user_id": user,
        "session_id": f"ses_{user}_{at:%m%d}",
        "course_id": course,
        "schema_version": 1,
        "properties": props,
    }


def platform_day(
    client: TestClient, day: datetime, users: dict[str, list[str]], truth: Truth, taken: set
) -> list[dict]:
    """One day of the integrated platform: fetch, show, click, enrol, complete."""
    FrozenClock.at = day
    events: list[dict] = []
    for group in ("echo", "no_echo"):
        for i, user in enumerate(users[group]):
            body = client.get(
                f"/v1/learners/{user}/recommendations", params={"k": 5, "surface": "home"}
            ).json()
            version = body["model_version"]
            if version not in truth.versions:
                truth.versions.append(version)
            truth.served[version] += len(body["items"])
            own_list = f"rec_{uuid.uuid4().hex[:12]}"
            shown = day + timedelta(minutes=1)
            for item in body["items"]:
                rec_id = item["rec_id"] if group == "echo" else own_list
                events.append(
                    event(
                        "rec_impression", user, shown, item["course_id"], rec_id=rec_id,
                        position=item["rank"], surface="home", model_version=PLATFORM_LABEL,
                    )
                )  # fmt: skip
                truth.impressions[version] += 1
                (truth.by_id if group == "echo" else truth.by_recency)[version] += 1
            if i % 2:
                continue
            # Every other learner clicks their first course not taken yet; some enrol, fewer
            # complete (a course is taken once, so each outcome belongs to one day's list).
            item = next(it for it in body["items"] if (user, it["course_id"]) not in taken)
            rec_id, course = (item["rec_id"] if group == "echo" else own_list), item["course_id"]
            events.append(
                event("rec_click", user, shown + timedelta(minutes=1), course, rec_id=rec_id)
            )
            truth.clicks[version] += 1
            if i % 4 == 0:
                taken.add((user, course))
                events.append(
                    event("enroll", user, shown + timedelta(minutes=3), course, rec_id=rec_id)
                )
                truth.enrolments[version] += 1
                if i % 8 == 0:
                    events.append(
                        event("course_complete", user, shown + timedelta(hours=5), course)
                    )
                    truth.completions[version] += 1
    # The platform's own recommender, for learners it asks the API nothing about.
    for i, user in enumerate(users["own"]):
        own_list = f"rec_{uuid.uuid4().hex[:12]}"
        for pos, course in enumerate(("C0001", "C0002", "C0003"), 1):
            events.append(
                event(
                    "rec_impression", user, day + timedelta(minutes=2), course, rec_id=own_list,
                    position=pos, surface="home", model_version=PLATFORM_LABEL,
                )
            )  # fmt: skip
            truth.impressions[PLATFORM_LABEL] += 1
        if i % 2 == 0:
            events.append(
                event("rec_click", user, day + timedelta(minutes=3), "C0001", rec_id=own_list)
            )
            truth.clicks[PLATFORM_LABEL] += 1
    return events


def write_events(folder: Path, day: datetime, events: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(json.dumps(e) for e in events)
    (folder / f"events-{day:%Y-%m-%d}.ndjson").write_text(lines + "\n")


@pytest.fixture(scope="module")
def attributed(tmp_path_factory, prefect_harness) -> Iterator[dict]:
    """The platform after the two served days and a nightly run: its home and the truth."""
    from apps import api
    from flows.nightly import nightly_flow, publish, recommend
    from pathwise.api_keys import KeyStore
    from pathwise.controls import ControlStore

    home = tmp_path_factory.mktemp("kpi-attribution") / "home"
    shutil.copytree(build_app_platform(tmp_path_factory), home)
    # What other tests asked the shared platform's API is not part of this story.
    shutil.rmtree(home / "rec_log", ignore_errors=True)
    landing = home / "landing" / "platform" / "events"
    truth, taken = Truth(), set()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        ids = learners(home, 3 * GROUP)
        users = {"echo": ids[:GROUP], "no_echo": ids[GROUP : 2 * GROUP], "own": ids[2 * GROUP :]}
        _, token = KeyStore().create("integrated platform", "service")
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with pytest.MonkeyPatch.context() as clock:
                clock.setattr(api, "datetime", FrozenClock)
                for n, day in enumerate(DAYS):
                    if n:  # an admin favours trending courses: tonight's model is a new version
                        store = ControlStore()
                        store.set_weights({"popularity": 1.5}, reason="test", actor="admin")
                        recommend.fn()
                        publish.fn()
                    with TestClient(api.create_app(watch=False), headers=headers) as client:
                        write_events(landing, day, platform_day(client, day, users, truth, taken))
            # The night after: ingest the platform's two days (the simulated ones are loaded
            # already) and the served log, build, publish.
            skip = ["index", "styles", "dropout", "recommend", "drift"]
            result = nightly_flow(landing=[str(landing.parent)], skip=skip)
            yield {"home": home, "truth": truth, "nightly": result}
        finally:
            get_settings.cache_clear()


def snapshot_sql(query: str) -> list[tuple]:
    con = snapshots.require_current().connect()
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_two_versions_served_on_two_days(attributed):
    truth = attributed["truth"]
    assert len(truth.versions) == 2, truth.versions
    first, second = truth.versions
    assert second.startswith(first) and "+w" in second  # the same model, the admin's weights


def test_kpis_split_by_the_version_that_served_the_list(attributed):
    truth = attributed["truth"]
    rows = snapshot_sql(
        "select activity_date, model_version, impression_model_version,"
        " sum(impression_count), sum(attributed_by_id_count),"
        " sum(attributed_by_recency_count), sum(click_count), sum(enrolment_count),"
        " sum(completion_count) from recommendation_kpis"
        " where activity_date >= '2026-02-23' group by all order by 1, 2"
    )
    day1, day2 = (d.date() for d in DAYS)
    first, second = truth.versions
    got = {(r[0], r[1]): r[2:] for r in rows}
    # Every impression the platform labelled `pop-baseline` counts under the model that served
    # its list; only the platform's own lists keep that label.
    assert set(got) == {
        (day1, first),
        (day1, PLATFORM_LABEL),
        (day2, second),
        (day2, PLATFORM_LABEL),
    }
    assert {r[2] for r in rows} == {PLATFORM_LABEL}
    for version in (first, second):
        day = day1 if version == first else day2
        assert got[(day, version)][1:] == (
            truth.impressions[version],
            truth.by_id[version],
            truth.by_recency[version],
            truth.clicks[version],
            truth.enrolments[version],
            truth.completions[version],
        )
    own = [got[(d, PLATFORM_LABEL)] for d in (day1, day2)]
    assert sum(r[1] for r in own) == truth.impressions[PLATFORM_LABEL]
    assert sum(r[2] + r[3] for r in own) == 0
    assert sum(r[4] for r in own) == truth.clicks[PLATFORM_LABEL]


def test_served_kpis_reconcile_with_the_served_log(attributed):
    truth = attributed["truth"]
    con = duckdb.connect(str(attributed["home"] / "warehouse.duckdb"), read_only=True)
    try:
        log = dict(
            con.sql(
                "select model_version, count(*) from raw.served_recommendations group by 1"
            ).fetchall()
        )
        served = {
            r[0]: r[1:]
            for r in con.sql(
                "select model_version, sum(served_count), sum(impression_count),"
                " sum(click_count), sum(enrolment_count), sum(completion_count)"
                " from marts.served_recommendation_kpis group by 1"
            ).fetchall()
        }
        kpis = dict(
            con.sql(
                "select model_version, sum(impression_count) from marts.recommendation_kpis"
                " group by 1"
            ).fetchall()
        )
    finally:
        con.close()
    for version in truth.versions:
        assert log[version] == truth.served[version]
        # Each served item was shown once: the KPIs' impressions are the log's impressed items.
        assert served[version] == (
            truth.served[version],
            kpis[version],
            truth.clicks[version],
            truth.enrolments[version],
            truth.completions[version],
        )


def test_the_control_tower_shows_whose_lists_learners_saw(attributed):
    from streamlit.testing.v1 import AppTest

    from pathwise.accounts import UserStore

    truth = attributed["truth"]
    first, second = truth.versions
    at = AppTest.from_file(str(APPS / "streamlit_app.py"), default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(
        UserStore().get("admin"), signed_in_at=time.time()
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = " ".join(m.value for m in at.markdown)
    assert "of the last 7 days' impressions showed lists the read API served" in said
    assert f"`{first}`" in said and f"`{second}`" in said and PLATFORM_LABEL in said
    (table,) = [d.value for d in at.dataframe if "lists_from" in d.value.columns]
    rows = table.set_index("grp")
    for version in truth.versions:
        assert rows.loc[version, "lists_from"] == "read API"
        assert rows.loc[version, "impressions"] == truth.impressions[version]
        assert rows.loc[version, "by_id"] == truth.by_id[version]
    assert rows.loc[PLATFORM_LABEL, "lists_from"] == "platform's own"
    # The admin's weights are named beside the version they made; the tuned ones beside the other.
    assert "popularity 1.50" in rows.loc[second, "weights"]
    assert "popularity 1.50" not in rows.loc[first, "weights"]
