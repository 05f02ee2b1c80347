"""Content briefs (agents/briefs): forecasts and their back-test, k-anonymous persona groups, the
fact check, and whole briefs on the shared test platform (a real nightly run, tests/_app_platform.py)
with the real O*NET, ESCO and job-posting files: every number a brief states is in its evidence,
a polish by a language model (a local OpenAI-compatible server, real HTTP) is kept only where its
facts held, and the Markdown and PDF exports read back. The app page in AppTest for both roles.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter
from io import BytesIO
from pathlib import Path

import polars as pl
import pytest
from _app_platform import served
from _llm_server import FakeLLM, llm_server
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from agents import briefs
from agents.briefs import forecast
from agents.briefs.facts import check, numbers
from agents.briefs.platform import k_cells
from agents.briefs.polish import POLISHED
from pathwise import snapshots
from pathwise.accounts import UserStore
from pathwise.settings import SHARED_DATA, get_settings

ONET = SHARED_DATA / "skills" / "onet_29_2"
APP = Path(__file__).resolve().parent.parent / "apps"

# -- forecasts ------------------------------------------------------------------------------------


def test_the_trend_continues_a_straight_line_and_its_interval_holds_it():
    f = forecast.trend([10, 12, 14, 16, 18, 20], horizon=2)
    assert f.points == pytest.approx((22, 24))
    assert all(lo <= p <= hi for lo, p, hi in zip(f.lows, f.points, f.highs, strict=True))
    # A perfect line has no residual: the interval is Poisson noise around the forecast.
    assert f.highs[0] - f.points[0] == pytest.approx(forecast.z_score(0.8) * 22**0.5)


def test_forecasts_never_go_below_zero():
    f = forecast.trend([9, 6, 3, 0], horizon=3)
    assert min(f.points) == 0 and min(f.lows) == 0


def test_the_naive_forecast_repeats_last_week_and_widens_with_the_horizon():
    f = forecast.naive([5, 20, 5, 20, 8], horizon=3)
    assert f.points == (8, 8, 8)
    widths = [hi - lo for lo, hi in zip(f.lows, f.highs, strict=True)]
    assert widths[0] < widths[1] < widths[2]


def test_backtest_scores_each_held_out_week_from_the_weeks_before_it():
    growing = [float(2 * w) for w in range(12)]
    bt = forecast.backtest(growing, holdout=4)
    assert bt["trend"].mae == pytest.approx(0) and bt["trend"].coverage == 1
    # Naive is one step behind on every held-out week: MAE 2, and the in-sample naive error is 2.
    assert bt["naive"].mae == pytest.approx(2) and bt["naive"].mase == pytest.approx(1)
    assert forecast.backtest([3] * 6, holdout=2)["naive"].mase is None  # flat: no scale
    with pytest.raises(ValueError, match="need at least"):
        forecast.backtest([1, 2], holdout=1)


# -- k-anonymous groups -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts",
    [
        {"a": 30, "b": 12, "c": 4},  # one small group: pooled with the smallest shown one
        {"a": 30, "b": 12, "c": 11, "d": 3, "e": 2},
        {"a": 9, "b": 3},  # nothing reaches k
        {"a": 50, "b": 25, "c": 20, "d": 15, "e": 12, "f": 11, "g": 10},  # more than `top`
    ],
)
def test_persona_groups_show_no_group_under_k_nor_one_to_work_out(counts):
    k = 10
    cells = k_cells(counts, k)
    assert all(n >= k for _, n in cells)
    assert sum(n for _, n in cells) in (sum(counts.values()), 0)
    hidden = {g: n for g, n in counts.items() if g not in dict(cells)}
    if cells and len(hidden) == 1:  # 'other' is one group: then it is no small group
        assert next(iter(hidden.values())) >= k


# -- the fact check ---------------------------------------------------------------------------------


def test_facts_are_numbers_as_values_and_known_names():
    assert numbers("1,204 searches, 72% found nothing; 4.50 h; id E3 [E3]") == Counter(
        {"1204": 1, "72": 1, "4.5": 1}
    )
    assert check("72% of 1,204 searches", "1204 searches, 72 percent of them", set()) is None
    assert "added 1205" in check("1,204 searches", "1205 searches", set())
    assert "dropped 12" in check("12 in a week, 3 courses", "3 courses", set())
    assert "Course B" in check("Course A", "Course A, unlike Course B", {"Course A", "Course B"})


# -- whole briefs on the shared platform ----------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory, prefect_harness):
    with served(tmp_path_factory) as path:
        yield path


@pytest.fixture(scope="module")
def snap(home):
    return snapshots.require_current()


@pytest.fixture
def con(snap):
    c = snap.connect()
    yield c
    c.close()


def make(con, snap, skill: str | None = None, **kw) -> briefs.Brief:
    skill = skill or briefs.gaps(con, 1)[0]["skill_key"]
    return briefs.generate(con, skill, snap.version, **kw)


def evidence_numbers(brief: briefs.Brief, ids=None) -> Counter:
    return numbers(" ".join(e.text for e in brief.evidence if ids is None or e.id in ids))


pytestmark = pytest.mark.skipif(not ONET.exists(), reason="needs ../shared/data/skills")


def test_the_widest_gap_is_one_the_simulator_planted(home, con):
    planted = pl.read_parquet(home / "landing" / "sim" / "truth" / "content_gaps.parquet")
    names = {str(v).lower() for col in planted.columns for v in planted[col] if isinstance(v, str)}
    top = briefs.gaps(con, 3)
    assert top and all(g["gap_score"] > 0 for g in top)
    assert any(g["skill_name"].lower() in names for g in top), (top, names)


def test_every_number_in_a_brief_is_in_its_evidence(con, snap):
    for gap in briefs.gaps(con, 3):
        brief = make(con, snap, gap["skill_key"])
        md = briefs.markdown(brief)
        body, _, evidence = md.partition("\n## Evidence\n")
        assert set(numbers(body)) <= set(numbers(evidence)), brief.skill_name
        ids = {e.id for e in brief.evidence}
        for c in brief.claims:  # and each sentence's numbers are in the evidence it cites
            assert c.evidence and set(c.evidence) <= ids, c
            assert set(numbers(c.text)) <= set(evidence_numbers(brief, c.evidence)), c
        for m in brief.modules:
            assert str(m.minutes) in evidence_numbers(brief)


def test_a_brief_has_every_section_from_real_signals(con, snap):
    brief = make(con, snap)
    sections = {c.section for c in brief.claims}
    assert sections == {"summary", "persona", "outcomes", "modules", "demand", "competition"}
    gap = con.execute(
        "select search_count, search_count_7d from content_gaps where skill_key = ?",
        [brief.skill_key],
    ).fetchall()[0]
    summary = brief.section("summary")[0].text
    assert f"{gap[0]:,} times" in summary and f"{gap[1]:,} of them" in summary
    weeks = con.execute(
        "select search_count from skill_demand_weeks where skill_key = ? and is_full_week "
        "order by weeks_ago desc",
        [brief.skill_key],
    ).fetchall()
    assert brief.facts["demand"]["series"] == [w[0] for w in weeks]
    assert (
        brief.facts["demand"]["low"]
        <= brief.facts["demand"]["forecast"]
        <= brief.facts["demand"]["high"]
    )
    assert len(brief.modules) >= 2 and brief.modules[-1].title.startswith("Capstone")
    persona = next(e for e in brief.evidence if e.source.startswith("learners"))
    k = get_settings().k_anonymity
    for count in re.findall(r"(?:[A-Za-z)] )(\d+)(?=[;.])", persona.text.split("median")[0]):
        assert int(count) >= k, persona.text  # every group the persona names holds k or more


def test_an_unknown_skill_says_what_to_run(con, snap):
    with pytest.raises(KeyError, match="pathwise brief list"):
        make(con, snap, "no such skill at all")


def test_the_pdf_holds_the_brief(con, snap):
    from pypdf import PdfReader

    brief = make(con, snap)
    reader = PdfReader(BytesIO(briefs.pdf(brief)))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    assert brief.title in text
    for heading in ("Why this course", "Target persona", "Module structure", "Evidence"):
        assert heading in text
    assert brief.evidence[-1].text.split(";")[0][:40] in text


def test_the_cli_writes_markdown_pdf_and_json(home, tmp_path):
    from cli import app

    out = tmp_path / "briefs"
    result = CliRunner().invoke(app, ["brief", "list", "--limit", "2"])
    assert result.exit_code == 0, result.output
    skill = result.output.splitlines()[0].split("  ")[1]
    result = CliRunner().invoke(app, ["brief", "make", skill, "--out", str(out), "--pdf", "--json"])
    assert result.exit_code == 0, result.output
    (md,) = out.glob("*.md")
    assert md.read_text().startswith("# ") and (md.with_suffix(".pdf")).read_bytes()[:5] == b"%PDF-"
    assert json.loads(md.with_suffix(".json").read_text())["skill_name"] == skill
    assert CliRunner().invoke(app, ["brief", "make", "no such skill"]).exit_code == 1


def test_a_brief_takes_under_two_seconds_once_the_files_are_read(con, snap):
    make(con, snap)  # reads O*NET, ESCO and the postings once per process
    start = time.perf_counter()
    make(con, snap)
    assert time.perf_counter() - start < 2  # benchmarks/briefs.py has the measured figure


# -- polished by a language model over real HTTP ------------------------------------------------


def _sentences(body: dict) -> dict[str, str]:
    return json.loads(body["messages"][-1]["content"])


def _bump_first_number(text: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + 1), text, count=1)


FakeLLM.replies.update(
    {
        "rephrase": lambda b: json.dumps({i: f"In short: {t}" for i, t in _sentences(b).items()}),
        "bump": lambda b: json.dumps({i: _bump_first_number(t) for i, t in _sentences(b).items()}),
        "fenced": lambda b: "```json\n" + json.dumps(_sentences(b)) + "\n```",
        "prose": lambda b: "Here is a nicer brief!",
    }
)


@pytest.fixture
def llm(home, monkeypatch):
    with llm_server() as url:

        def configure(model: str) -> None:
            monkeypatch.setenv("PATHWISE_LLM_BASE_URL", url)
            monkeypatch.setenv("PATHWISE_LLM_MODEL", model)
            monkeypatch.setenv("PATHWISE_LLM_TIMEOUT_S", "5")
            monkeypatch.setenv("PATHWISE_ALLOW_PLAINTEXT_HOSTS", "127.0.0.1")
            get_settings.cache_clear()

        yield configure
    get_settings.cache_clear()


def test_a_polish_that_keeps_the_facts_is_used(llm, con, snap):
    template = make(con, snap)
    llm("rephrase")
    brief = make(con, snap, template.skill_key, polished=True)
    assert brief.polished_by == "rephrase" and not brief.notices
    for before, after in zip(template.claims, brief.claims, strict=True):
        expected = f"In short: {before.text}" if before.section in POLISHED else before.text
        assert after.text == expected
    assert FakeLLM.requests[-1]["path"].endswith("/chat/completions")


def test_a_polish_that_changes_a_number_keeps_the_template(llm, con, snap):
    template = make(con, snap)
    llm("bump")
    brief = make(con, snap, template.skill_key, polished=True)
    changed = [c for c in template.claims if c.section in POLISHED and numbers(c.text)]
    assert changed
    for before, after in zip(template.claims, brief.claims, strict=True):
        if numbers(before.text):
            assert after.text == before.text  # a number changed: the template stands
        else:
            assert after.text == _bump_first_number(before.text) or after.text == before.text
    assert "whose facts the language model changed" in brief.notices[0]
    assert all(c.id in brief.notices[0] for c in changed)
    body, _, evidence = briefs.markdown(brief).partition("\n## Evidence\n")
    prose = "\n".join(line for line in body.splitlines() if not line.startswith(">"))
    assert set(numbers(prose)) <= set(numbers(evidence))  # the notice quotes what was refused


@pytest.mark.parametrize(("model", "notice"), [("error", "HTTP|could not"), ("prose", "JSON")])
def test_an_unusable_reply_leaves_the_template_with_a_notice(llm, con, snap, model, notice):
    template = make(con, snap)
    llm(model)
    brief = make(con, snap, template.skill_key, polished=True)
    assert [c.text for c in brief.claims] == [c.text for c in template.claims]
    assert brief.polished_by is None and re.search(notice, brief.notices[0])


def test_a_fenced_json_reply_is_read(llm, con, snap):
    llm("fenced")  # the same sentences back: nothing to change, nothing refused
    brief = make(con, snap, polished=True)
    assert not brief.notices and brief.polished_by is None


# -- the app page ---------------------------------------------------------------------------------


def _signed_in(role: str) -> AppTest:
    user = UserStore().get(role)
    at = AppTest.from_file(str(APP / "streamlit_app.py"), default_timeout=60)
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    return at


@pytest.mark.parametrize("role", ["instructor", "admin"])
def test_the_briefs_page_generates_a_brief_to_download(home, con, role):
    at = _signed_in(role).run()
    at.switch_page("app_pages/briefs.py").run()
    assert not at.exception and at.title[0].value == "Content briefs"
    top = briefs.gaps(con, 1)[0]
    assert at.selectbox[0].value == top["skill_key"]
    at.button(key="generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown)
    assert f"Practical {top['skill_name']}" in shown and "Module structure" in shown
    assert not at.toggle[0].value and at.toggle[0].disabled  # no language model configured


def test_the_briefs_page_is_closed_to_learners(home):
    at = AppTest.from_file(str(APP / "app_pages" / "briefs.py"), default_timeout=60)
    user = UserStore().get("learner")
    at.session_state["pathwise_user"] = dataclasses.replace(user, signed_in_at=time.time())
    at.run()
    assert "This page is for instructor or admin accounts" in at.error[0].value
    assert not at.title and not at.markdown
