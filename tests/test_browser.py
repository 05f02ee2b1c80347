"""The app in a real browser: Debian's headless Chromium driven by Playwright (no downloaded browser).

`pathwise app` and `pathwise serve` run as real processes on the shared test platform
(tests/_app_platform.py), over HTTPS with a certificate from the local CA `pathwise dev-cert` makes:
the browser trusts that CA through the NSS database Chromium reads on Linux ($HOME/.pki/nssdb,
made with NSS's `certutil`), never by ignoring certificate errors, and a browser without it is
refused. Each role signs in through the form and sees its pages and only those;
an admin's boost saved in the Control Tower shows up in the read API's next response. A screenshot
of every page is saved under test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from _app_platform import PASSWORD, build
from _cohort_marts import add_proposal

from benchmarks.browser import (
    CERTUTIL,
    CHROMIUM,
    MISSING,
    PAGES,
    free_port,
    launch,
    settle,
    sign_in,
    start,
    stop,
    trusting,
)
from pathwise import snapshots
from pathwise.campaigns import CampaignStore
from pathwise.controls import ControlStore
from pathwise.devcert import make_dev_cert
from pathwise.settings import get_settings

pytestmark = pytest.mark.slow

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NAV = {role: list(pages) for role, pages in PAGES.items()}
HEADINGS = {name: heading for pages in PAGES.values() for name, heading in pages.items()}

if not CHROMIUM.exists() or not CERTUTIL:
    if os.environ.get("CI"):
        raise RuntimeError(MISSING)
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture(scope="module")
def servers(tmp_path_factory, prefect_harness) -> Iterator[dict]:
    home = build(tmp_path_factory)
    certs = make_dev_cert(home / "tls")
    env = {
        **os.environ,
        "PATHWISE_HOME": str(home),
        "PATHWISE_WAREHOUSE_KEY": "",
        "PATHWISE_TLS_CERT": str(certs.cert),
        "PATHWISE_TLS_KEY": str(certs.key),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    app_port, api_port = free_port(), free_port()
    app_url, api_url = f"https://127.0.0.1:{app_port}", f"https://localhost:{api_port}"
    app = start(["app", "--port", str(app_port)], env, f"{app_url}/_stcore/health", certs.ca)
    api = start(["serve", "--port", str(api_port)], env, f"{api_url}/health", certs.ca)
    ARTIFACTS.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATHWISE_HOME", str(home))
        mp.setenv("PATHWISE_WAREHOUSE_KEY", "")
        get_settings.cache_clear()
        try:
            yield {"home": home, "app": app_url, "api": api_url, "ca": certs.ca}
        finally:
            stop(app)
            stop(api)
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(servers, playwright, tmp_path_factory):
    b = launch(playwright, trusting(tmp_path_factory.mktemp("browser-home"), servers["ca"]))
    yield b
    b.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab. Any request to a host other than this machine is refused and fails
    the test: the app must work offline and tell no third party who uses it (fonts, icons)."""
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    outside: list[str] = []

    def only_loopback(route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme not in ("http", "https") or url.hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    assert not outside, f"the app reached beyond this machine: {outside}"


def heading(pg) -> str:
    return pg.locator("h1").first.inner_text().strip()


def no_exception(pg) -> None:
    assert pg.locator("[data-testid=stException]").count() == 0


def test_the_app_is_served_over_https_that_the_browser_verifies(
    servers, page, playwright, tmp_path
):
    answer = page.goto(servers["app"])
    assert answer is not None and answer.ok
    from playwright.sync_api import Error as PlaywrightError

    tls = answer.security_details()
    assert tls is not None and tls["issuer"].startswith("Pathwise dev CA")
    assert tls["protocol"] in ("TLS 1.3", "TLS 1.2") and tls["subjectName"] == "localhost"
    with pytest.raises(httpx.TransportError):  # plain HTTP on the HTTPS port gets no page
        httpx.get(servers["app"].replace("https://", "http://"))
    stranger = launch(playwright, tmp_path)  # a browser that does not trust the local CA
    try:
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            stranger.new_page().goto(servers["app"])
    finally:
        stranger.close()


def test_sign_in_page_refuses_a_wrong_password(servers, page):
    sign_in(page, servers["app"], "admin", "not-the-password")
    page.get_by_text("Wrong username or password.").wait_for()
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    page.screenshot(path=ARTIFACTS / "sign-in.png")


@pytest.mark.parametrize("role", list(NAV))
def test_each_role_sees_its_pages_and_only_those(servers, page, role):
    sign_in(page, servers["app"], role, PASSWORD)
    page.get_by_role("button", name="Sign out").wait_for()
    settle(page)
    nav = page.locator("[data-testid=stSidebarNav] a")
    # Each link reads "<icon name>\n\n<title>": the icon is a font ligature.
    assert sorted(t.split("\n")[-1] for t in nav.all_inner_texts()) == sorted(NAV[role])
    for name in NAV[role]:
        nav.filter(has_text=name).click()
        page.wait_for_function(
            "t => document.querySelector('h1') && document.querySelector('h1').innerText.includes(t)",
            arg=HEADINGS[name],
        )
        settle(page)
        no_exception(page)
        assert page.locator("[data-testid=stAlertContentError]").count() == 0
        body = page.locator("[data-testid=stMain]").inner_text()
        if role == "admin" and name == "Performance":
            assert "CTR" in body and "Satisfaction" in body
        if role == "instructor" and name == "My courses":
            user_iid = _instructor_id()
            others = _titles("instructor_id <> ?", [user_iid]) - _titles(
                "instructor_id = ?", [user_iid]
            )
            assert not [t for t in others if t in body]  # no other instructor's course anywhere
        if role == "learner" and name == "My learning":
            assert "Recommended for you" in body and "My progress" in body
        if role == "learner" and name == "Ask a course":
            page.get_by_role("textbox", name="Your question").fill(
                "Do I need programming experience before starting?"
            )
            page.get_by_role("button", name="Ask").click()
            page.get_by_text("Sources").wait_for()
            settle(page)
        page.screenshot(
            path=ARTIFACTS / f"{role}-{name.lower().replace(' ', '-')}.png", full_page=True
        )
    # A page of another role, asked for by address, opens a new session: the sign-in page.
    foreign = {"admin": "my_learning", "instructor": "interventions", "learner": "control_tower"}
    page.goto(f"{servers['app']}/{foreign[role]}")
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    # Signing out ends the session.
    sign_in(page, servers["app"], role, PASSWORD)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()


def test_a_bookmarked_page_is_reached_after_signing_in(servers, page):
    page.goto(f"{servers['app']}/interventions")
    page.get_by_role("button", name="Sign in").wait_for()
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    page.get_by_role("textbox", name="Username").fill("admin")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    settle(page)
    assert heading(page) == HEADINGS["Interventions"]
    assert page.url.endswith("/interventions")
    assert page.get_by_text("Page not found").count() == 0


def _instructor_id() -> str:
    from pathwise.accounts import UserStore

    return UserStore().get("instructor").instructor_id


def _first_course() -> tuple[str, str]:
    con = snapshots.require_current().connect()
    try:
        return con.execute(
            "select course_id, course_title from courses order by course_id limit 1"
        ).fetchall()[0]
    finally:
        con.close()


def _titles(where: str, params: list) -> set[str]:
    con = snapshots.require_current().connect()
    try:
        return {
            r[0]
            for r in con.execute(
                f"select course_title from courses where {where}", params
            ).fetchall()
        }
    finally:
        con.close()


def test_a_boost_saved_in_the_control_tower_is_in_the_read_api(servers, page):
    snap = snapshots.require_current()
    assert snap.tables["recommendations"] > 0
    from pathwise.accounts import UserStore

    learner = UserStore().get("learner").learner_key
    con = snap.connect()
    try:
        # A candidate of the learner's that the API does not show now (rank past the top 10).
        course = con.execute(
            "select course_id from recommendations where learner_key = ? and rank > 10 "
            "order by rank limit 1",
            [learner],
        ).fetchall()[0][0]
        title = con.execute(
            "select course_title from courses where course_id = ?", [course]
        ).fetchall()[0][0]
    finally:
        con.close()
    from pathwise.api_keys import KeyStore

    url = f"{servers['api']}/v1/learners/{learner}/recommendations?k=10&id_kind=learner_key"
    _, token = KeyStore().create("browser test", "service")
    platform = {"Authorization": f"Bearer {token}"}
    before = httpx.get(url, headers=platform, verify=str(servers["ca"])).json()
    assert course not in [i["course_id"] for i in before["items"]]

    sign_in(page, servers["app"], "admin", PASSWORD)
    page.get_by_role("button", name="Sign out").wait_for()
    page.locator("[data-testid=stSidebarNav] a").filter(has_text="Interventions").click()
    choose = page.get_by_role("combobox", name="Course")
    choose.wait_for()
    settle(page)
    choose.click()
    page.keyboard.type(course)
    page.get_by_role("option", name=f"{title} · {course}").click()
    settle(page)
    slider = page.get_by_role("slider", name="Boost amount")
    slider.focus()
    page.keyboard.press("End")  # the maximum boost, 1.0
    settle(page)
    page.get_by_role("textbox", name="Reason (shown in the audit log)").first.fill("browser test")
    page.keyboard.press("Enter")
    settle(page)
    page.screenshot(path=ARTIFACTS / "admin-interventions-preview.png", full_page=True)
    page.get_by_role("button", name="Save boost").click()
    page.get_by_text("The read API applies it to its next response").wait_for()

    try:
        after = httpx.get(url, headers=platform, verify=str(servers["ca"])).json()
        items = {i["course_id"]: i for i in after["items"]}
        assert course in items, "the boosted course is not in the API's top 10"
        assert items[course]["boost"] == 1.0
        assert after["controls_applied"]
        page.locator("[data-testid=stSidebarNav] a").filter(has_text="Audit log").click()
        page.get_by_text("Every boost, suppression").wait_for()
        settle(page)
        page.screenshot(path=ARTIFACTS / "admin-audit-log-after-boost.png", full_page=True)
    finally:
        store = ControlStore()
        for c in list(store.in_force().controls):
            if c.course_id == course and c.reason == "browser test":
                store.revoke(c.control_id, reason="test cleanup", actor="test")


def test_an_admin_approves_a_campaign_and_the_audit_log_shows_it(servers, page):
    store = CampaignStore()
    course, title = _first_course()
    made = add_proposal(course, title, "browser-test", size=1000)  # the most expected: shown first
    proposed = {c["campaign_id"] for c in store.list() if c["status"] == "proposed"}
    assert made in proposed
    sign_in(page, servers["app"], "admin", PASSWORD)
    page.get_by_role("button", name="Sign out").wait_for()
    page.locator("[data-testid=stSidebarNav] a").filter(has_text="Campaigns").click()
    reason = page.get_by_role("textbox", name="Reason (shown in the audit log)")
    reason.wait_for()
    settle(page)
    # The page opens on the proposal with the most expected dropouts prevented.
    cid = made
    body = page.locator("[data-testid=stMain]").inner_text()
    assert store.get(cid)["explanation"] in body and "status proposed" in body
    assert "Message learners receive" in body and "simulated" in body
    assert page.get_by_role("button", name="Approve").is_disabled()  # no reason given yet
    reason.fill("browser test")
    page.keyboard.press("Enter")
    settle(page)
    page.get_by_role("button", name="Approve").click()
    page.get_by_text(f"Campaign #{cid}: approve saved").wait_for()
    settle(page)
    assert store.get(cid)["status"] == "approved"
    assert "status approved" in page.locator("[data-testid=stMain]").inner_text()
    page.screenshot(path=ARTIFACTS / "admin-campaigns-approved.png", full_page=True)

    page.locator("[data-testid=stSidebarNav] a").filter(has_text="Audit log").click()
    page.get_by_text("Every boost, suppression").wait_for()
    settle(page)
    page.get_by_role("combobox", name="Action").click()  # the filter offers what was done
    page.get_by_role("option", name="campaign_approve").click()
    settle(page)
    row = next(a for a in ControlStore().audit() if a["target"] == f"campaign:{cid}")  # newest
    assert (row["action"], row["actor"], row["reason"]) == ("campaign_approve", "admin",
                                                            "browser test")  # fmt: skip
    page.screenshot(path=ARTIFACTS / "admin-audit-log-after-approval.png", full_page=True)


def test_an_instructor_generates_a_content_brief_and_downloads_its_markdown(servers, page):
    sign_in(page, servers["app"], "instructor", PASSWORD)
    page.get_by_role("button", name="Sign out").wait_for()
    page.locator("[data-testid=stSidebarNav] a").filter(has_text="Briefs").click()
    page.wait_for_function(
        "() => document.querySelector('h1')?.innerText.includes('Content briefs')"
    )
    settle(page)
    page.get_by_role("button", name="Generate brief").click()
    page.get_by_text("Module structure").wait_for()
    settle(page)
    no_exception(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download Markdown").click()
    text = Path(download.value.path()).read_text()
    assert download.value.suggested_filename.endswith(".md")
    title = text.splitlines()[0].removeprefix("# ")
    assert (
        title.startswith("Practical ")
        and title in page.locator("[data-testid=stMain]").inner_text()
    )
    assert "## Evidence" in text and "## Demand estimate" in text
    page.screenshot(path=ARTIFACTS / "instructor-brief.png", full_page=True)


def test_a_new_learner_talks_through_onboarding_and_sees_their_path(servers, page):
    """The learning-path agent's page (app_pages/learning_path.py): a learner with no history
    answers the onboarding questions in the chat, then sees the path as a timeline with why each
    course is there and the change log; the read API serves the same path."""
    from pathwise.accounts import UserStore
    from pathwise.api_keys import KeyStore
    from pathwise.privacy import pseudonym

    key = pseudonym("browser-newcomer", get_settings().pseudonym_key.get_secret_value())
    UserStore().add("newcomer", PASSWORD, "learner", learner_key=key)
    sign_in(page, servers["app"], "newcomer", PASSWORD)
    page.get_by_role("button", name="Sign out").wait_for()
    page.locator("[data-testid=stSidebarNav] a").filter(has_text="My path").click()
    page.get_by_text("Tell me the job you are aiming for").wait_for()
    answer = page.get_by_placeholder("Your answer")
    for said, asked in [
        ("I want to become a data scientist", "What do you already know?"),
        ("Excel and SQL", "How many hours a week"),
        ("5 hours", "By when would you like to get there?"),
        ("in 6 months", "Which format suits you best"),
        ("video", "Your path to Data Scientists"),
    ]:
        answer.fill(said)
        answer.press("Enter")
        page.get_by_text(asked).first.wait_for()
        settle(page)
        no_exception(page)
    chart = page.locator("[data-testid=stMain] [data-testid=stVegaLiteChart]")
    chart.locator("canvas, svg").first.wait_for()
    body = page.locator("[data-testid=stMain]").inner_text()
    assert "Why your path changed" in body and "Your path was planned:" in body
    assert page.get_by_placeholder("Your answer").count() == 0  # the conversation is over
    page.screenshot(path=ARTIFACTS / "learner-my-path.png", full_page=True)
    _, token = KeyStore().create("browser paths", "service")
    served = httpx.get(
        f"{servers['api']}/v1/learners/{key}/path?id_kind=learner_key",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(servers["ca"]),
    ).json()
    assert served["path"]["goal"]["role"] == "Data Scientists"
    assert all(s["title"] in body for s in served["path"]["steps"])


def test_an_instructor_accepts_a_suggested_tag_in_the_review_queue(servers, page):
    from pathwise.metadata_queue import MetadataQueue

    queue = MetadataQueue()
    own = _course_ids("instructor_id = ?", [_instructor_id()])
    pending = queue.suggestions(course_ids=own)
    assert pending, "the metadata agent suggested nothing for the instructor's courses"
    sign_in(page, servers["app"], "instructor", PASSWORD)
    page.get_by_role("button", name="Sign out").wait_for()
    page.locator("[data-testid=stSidebarNav] a").filter(has_text="Review metadata").click()
    page.get_by_role("button", name="Accept").first.wait_for()
    settle(page)
    no_exception(page)
    page.screenshot(path=ARTIFACTS / "instructor-review-metadata-before.png", full_page=True)
    page.get_by_role("button", name="Accept").first.click()
    page.get_by_text("Accepted:").wait_for()
    settle(page)
    page.screenshot(path=ARTIFACTS / "instructor-review-metadata-accepted.png", full_page=True)
    decided = [
        s
        for s in queue.suggestions(course_ids=own, status="accepted")
        if s["decided_by"] == "instructor"
    ]
    assert len(decided) == 1 and decided[0]["suggestion_id"] in {
        s["suggestion_id"] for s in pending
    }
    audit = [a for a in queue.audit() if a["action"] == "metadata_accept"]
    assert audit[0]["actor"] == "instructor" and audit[0]["target"] in own


def _course_ids(where: str, params: list) -> list[str]:
    con = snapshots.require_current().connect()
    try:
        rows = con.execute(f"select course_id from courses where {where}", params).fetchall()
        return [r[0] for r in rows]
    finally:
        con.close()
