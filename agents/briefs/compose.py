"""A content brief from the signals, by templates: every sentence is built from evidence items
and cites them, and every number it states is written in one of them first.

Sections: a working title, a summary of the demand, the target persona, learning outcomes, the
module structure (ordered by the skill graph, with lengths), the demand estimate (a forecast with
its interval and back-test) and the competing courses with why they fall short. `Brief.evidence`
holds each figure with its source; `Brief.claims` the prose, each with the evidence it rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from agents.briefs import forecast
from agents.briefs.industry import Industry
from agents.briefs.platform import LEVELS, OTHER, Platform

HORIZON = 4  # weeks the demand estimate covers
MIN_TREND = 4  # weeks of history before the forecast follows a trend
SECTIONS = {
    "summary": "Why this course",
    "persona": "Target persona",
    "outcomes": "Learning outcomes",
    "modules": "Module structure",
    "demand": "Demand estimate",
    "competition": "Competing catalog courses",
}


@dataclass(frozen=True)
class Evidence:
    id: str
    source: str
    text: str


@dataclass
class Claim:
    id: str
    section: str
    text: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Module:
    title: str
    minutes: int
    skills: tuple[str, ...]


@dataclass
class Brief:
    skill_key: str
    skill_name: str
    title: str
    snapshot: str
    claims: list[Claim] = field(default_factory=list)
    modules: list[Module] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # the figures as data (JSON export, the page)
    polished_by: str | None = None  # the model that polished the prose, if any
    notices: list[str] = field(default_factory=list)

    def cite(self, source: str, text: str) -> str:
        eid = f"E{len(self.evidence) + 1}"
        self.evidence.append(Evidence(eid, source, text))
        return eid

    def say(self, section: str, text: str, *evidence: str) -> None:
        self.claims.append(Claim(f"C{len(self.claims) + 1}", section, text, evidence))

    def section(self, name: str) -> list[Claim]:
        return [c for c in self.claims if c.section == name]


def pct(x: float) -> str:
    return f"{x:.0%}"


def compose(
    p: Platform, ind: Industry, related: list[tuple[str, str, int]], snapshot: str, k: int
) -> Brief:
    """The brief for the skill of `p.gap`; `related` = (key, name, shared occupations)."""
    name = p.gap["skill_name"]
    roles = [r for r, _ in p.persona.roles if r != OTHER]
    audience = (
        roles[0] if roles else (ind.top_occupations[0] if ind.top_occupations else "learners")
    )
    level = p.persona.target_level
    brief = Brief(p.gap["skill_key"], name, f"Practical {name} for {audience}", snapshot)
    brief.cite(
        "Published snapshot",
        f"Snapshot {snapshot}; platform weeks end at the latest event, "
        f"{p.gap['window_end_at']:%d %b %Y %H:%M} UTC.",
    )
    _summary(brief, p, ind)
    _persona(brief, p, ind, k)
    _outcomes(brief, p, ind, related, audience)
    _modules(brief, p, related, level, audience)
    _demand(brief, p)
    _competition(brief, p, related, level)
    return brief


def _summary(b: Brief, p: Platform, ind: Industry) -> None:
    g = p.gap
    searches = b.cite(
        "content_gaps (searches)",
        f"{b.skill_name}: {g['search_count']:,} searches in all; {g['search_count_7d']:,} in the "
        f"last 7 days against {g['search_count_prev_7d']:,} in the 7 before; "
        + (
            f"{pct(g['zero_result_share'])} of searches found no course."
            if g["zero_result_share"] is not None
            else "no search found it yet."
        ),
    )
    supply = b.cite(
        "content_gaps (supply, gap score)",
        f"{g['course_count']:,} catalog courses teach it; gap score {g['gap_score']:.2f} "
        f"(demand {g['demand_score']:.2f} minus supply {g['supply_score']:.2f}), rank "
        f"{p.gap_rank} of {p.gaps_open} skills with unmet demand.",
    )
    onet = b.cite(
        "O*NET 29.2 Technology Skills",
        f"{ind.onet_occupations:,} occupations list {b.skill_name}: {ind.onet_hot:,} as a hot "
        f"technology, {ind.onet_in_demand:,} as in demand in employers' postings"
        + (f"; for example {', '.join(ind.top_occupations[:3])}." if ind.top_occupations else "."),
    )
    supply_text = (
        "no catalog course teaches it"
        if g["course_count"] == 0
        else (
            f"only {g['course_count']} catalog course{'s' if g['course_count'] != 1 else ''} teach it"
        )
    )
    b.say(
        "summary",
        f"Learners searched for {b.skill_name} {g['search_count']:,} times, "
        f"{g['search_count_7d']:,} of them in the last 7 days, and {supply_text}: it ranks "
        f"{p.gap_rank} of {p.gaps_open} content gaps.",
        searches,
        supply,
    )
    b.say(
        "summary",
        f"Employers ask for it: {ind.onet_occupations:,} O*NET occupations list it, "
        f"{ind.onet_hot:,} of them as a hot technology.",
        onet,
    )
    if ind.postings:
        post = b.cite(
            "Google job postings (1,250)" if ind.postings_total == 1250 else "Job postings",
            f"{ind.postings:,} of {ind.postings_total:,} job postings name {b.skill_name}"
            + (f", e.g. {'; '.join(ind.posting_titles)}." if ind.posting_titles else "."),
        )
        b.say(
            "summary", f"{ind.postings:,} of {ind.postings_total:,} job postings ask for it.", post
        )
    if ind.esco_occupations is not None:
        b.cite(
            "ESCO v1.0 occupations",
            f"{ind.esco_occupations:,} ESCO occupations name {b.skill_name} in their description"
            + (f" ({', '.join(ind.esco_examples)})." if ind.esco_examples else "."),
        )
    for t in p.topics[:3]:
        topic = b.cite(
            "unmatched_search_topics",
            f"'{t['topic']}': {t['search_count']:,} searches by {t['learner_count']:,} learners "
            f"matched no catalog skill; {t['search_count_7d']:,} in the last 7 days.",
        )
        b.say(
            "summary",
            f"'{t['topic']}' was searched {t['search_count']:,} times by {t['learner_count']:,} "
            "learners and matched no course.",
            topic,
        )


def _persona(b: Brief, p: Platform, ind: Industry, k: int) -> None:
    persona = p.persona
    if not persona.learners:
        e = b.cite(
            "learners (k-anonymity)",
            f"Fewer than {k} learners aim at a role listing {b.skill_name}.",
        )
        b.say(
            "persona",
            f"Too few learners (under {k}) aim at a role that lists {b.skill_name} to describe them.",
            e,
        )
        return

    def listing(cells: list[tuple[str, int]]) -> str:
        return "; ".join(f"{name} {n:,}" for name, n in cells)

    e = b.cite(
        "learners, learner_course_progress (groups of at least k)",
        f"{persona.learners:,} learners aim at a role listing {b.skill_name}. Roles: "
        f"{listing(persona.roles)}. Level shown (hardest level completed): "
        f"{listing(persona.levels)}. Time budget: {listing(persona.budgets)}"
        + (
            f"; median {persona.median_weekly_minutes} min a week."
            if persona.median_weekly_minutes
            else "."
        )
        + f" Groups under {k} learners are pooled as '{OTHER}'.",
    )
    roles = [r for r, _ in persona.roles if r != OTHER]
    b.say(
        "persona",
        f"{persona.learners:,} learners aim at roles that need {b.skill_name}"
        + (f", most of all {', '.join(roles[:3])}." if roles else "."),
        e,
    )
    top_level = persona.levels[0][0] if persona.levels else "new"
    b.say(
        "persona",
        f"Most have shown {'no completed course yet' if top_level == 'new' else f'{top_level} level'}"
        f", so the course is pitched at {persona.target_level} level.",
        e,
    )
    if persona.median_weekly_minutes:
        b.say(
            "persona",
            f"They have a median of {persona.median_weekly_minutes} minutes a week to learn.",
            e,
        )


def _outcomes(b: Brief, p: Platform, ind: Industry, related: list, audience: str) -> None:
    onet = next(e.id for e in b.evidence if e.source.startswith("O*NET"))
    b.say(
        "outcomes",
        f"Explain what {b.skill_name} is for and set it up for the work of {audience}.",
        onet,
    )
    for _key, rel, shared in related[:3]:
        e = b.cite(
            "O*NET 29.2 Technology Skills (listed together)",
            f"{shared:,} of the {ind.onet_occupations:,} occupations listing {b.skill_name} also list {rel}.",
        )
        b.say("outcomes", f"Use {b.skill_name} together with {rel}.", e)
    if p.topics:
        topic = next(e.id for e in b.evidence if e.source == "unmatched_search_topics")
        b.say(
            "outcomes",
            f"Answer what learners search for and cannot find: {', '.join(repr(t['topic']) for t in p.topics[:3])}.",
            topic,
        )
    b.say(
        "outcomes",
        f"Complete a project with {b.skill_name} of the kind {audience} do at work.",
        onet,
    )


def order_by_skill_graph(keys: list[str], p: Platform) -> list[str]:
    """`keys` so that a skill taught in a prerequisite course comes before the skills of the
    courses that require it; otherwise easier skills (lower catalog level) first, then as given."""
    rank = {s: (p.skill_levels.get(s, len(LEVELS) + 1), i) for i, s in enumerate(keys)}
    edges = {(a, c) for a, c in p.prerequisite_edges if a in rank and c in rank}
    out, left = [], set(keys)
    while left:
        ready = [s for s in left if not any(a in left and c == s for a, c in edges)]
        s = min(ready or left, key=lambda x: rank[x])  # a cycle: break it at the easiest
        out.append(s)
        left.remove(s)
    return out


def _modules(b: Brief, p: Platform, related: list, level: str, audience: str) -> None:
    minutes = (
        p.median_module_minutes.get(level) or (sorted(p.median_module_minutes.values()) or [45])[0]
    )
    names = {key: name for key, name, _ in related}
    order = order_by_skill_graph([key for key, _, _ in related[:3]], p)
    modules = [Module(f"{b.skill_name} foundations", minutes, (b.skill_name,))]
    modules += [
        Module(f"{b.skill_name} with {names[key]}", minutes, (b.skill_name, names[key]))
        for key in order
    ]
    modules.append(
        Module(f"Capstone: {b.skill_name} at work for {audience}", 2 * minutes, (b.skill_name,))
    )
    total = sum(m.minutes for m in modules)
    weekly = p.persona.median_weekly_minutes
    levels = "; ".join(f"{names[s]} {p.skill_levels[s]:.1f}" for s in order if s in p.skill_levels)
    e = b.cite(
        "course_modules, courses, course_prerequisites (skill graph)",
        f"Median catalog module at {level} level: {minutes} min; the capstone twice that, "
        f"{2 * minutes} min; {len(modules)} modules, {total} min in all"
        + (f", {_weeks(math.ceil(total / weekly))} at {weekly} min a week." if weekly else ".")
        + (
            f" Mean catalog level of the related skills (1 beginner to 3 advanced): {levels}."
            if levels
            else ""
        )
        + " Related skills follow prerequisite courses first, then easier skills first.",
    )
    b.modules = modules
    b.say(
        "modules",
        f"{len(modules)} modules of about {minutes} minutes, {total} minutes in all"
        + (
            f": {_weeks(math.ceil(total / weekly))} at the persona's {weekly} minutes a week."
            if weekly
            else "."
        ),
        e,
    )
    b.facts["modules"] = [m.__dict__ for m in modules]


def _weeks(n: int) -> str:
    return f"{n} week" if n == 1 else f"{n} weeks"


def _demand(b: Brief, p: Platform) -> None:
    series = [int(w["search_count"]) for w in p.weeks]
    if not series:
        e = b.cite("skill_demand_weeks", f"No whole week of searches for {b.skill_name} yet.")
        b.say("demand", "There is no weekly history yet to forecast from.", e)
        return
    # A line through fewer than MIN_TREND weeks is a guess: last week's level carries on instead.
    method = forecast.trend if len(series) >= MIN_TREND else forecast.naive
    f = method(series, HORIZON)
    point, low, high = (round(v) for v in f.total)
    history = ", ".join(str(v) for v in series)
    how = "Trend" if f.method == "trend" else f"Under {MIN_TREND} weeks, so last week's level"
    e = b.cite(
        "skill_demand_weeks (searches a week, oldest first)",
        f"Searches for {b.skill_name} in the {len(series)} whole weeks: {history}. {how} "
        f"forecast for the next {HORIZON} weeks: {point} searches, {pct(forecast.LEVEL)} interval "
        f"{low} to {high}.",
    )
    b.say(
        "demand",
        f"About {point} searches in the next {HORIZON} weeks ({pct(forecast.LEVEL)} interval {low} to {high}), "
        f"from {len(series)} weeks of history.",
        e,
    )
    b.facts["demand"] = {
        "series": series,
        "method": f.method,
        "forecast": point,
        "low": low,
        "high": high,
        "weeks": HORIZON,
        "level": forecast.LEVEL,
    }
    holdout = min(4, len(series) - 2)
    if holdout >= 1:
        bt = forecast.backtest(series, holdout)
        t, n = bt["trend"], bt["naive"]
        e2 = b.cite(
            "Back-test on held-out weeks (agents/briefs/forecast.py)",
            f"Each of the last {holdout} weeks forecast from the weeks before it: trend mean absolute "
            f"error {t.mae:.1f} searches, interval held the truth in {pct(t.coverage)}; naive last-value "
            f"forecast error {n.mae:.1f}, coverage {pct(n.coverage)}.",
        )
        b.say(
            "demand",
            f"Back-tested on the last {holdout} weeks: off by {t.mae:.1f} searches a week against "
            f"{n.mae:.1f} for last week's value, its interval holding {pct(t.coverage)} of them.",
            e2,
        )
        b.facts["backtest"] = {name: r.__dict__ for name, r in bt.items()}
    else:
        e2 = b.cite(
            "Back-test on held-out weeks (agents/briefs/forecast.py)",
            f"A back-test needs 3 whole weeks (2 to forecast from, 1 held out); there are {len(series)}.",
        )
        b.say("demand", "Too few weeks to back-test the forecast yet (it needs 3).", e2)
    now, before = p.related_enrolments
    if now or before:
        e3 = b.cite(
            "skill_demand_weeks (enrolments in courses teaching the related skills)",
            f"Enrolments in courses teaching the related skills: {now:,} in the last 7 days, {before:,} in the 7 before.",
        )
        b.say(
            "demand",
            f"Courses on the related skills drew {now:,} enrolments in the last 7 days against {before:,} the week before.",
            e3,
        )


def _competition(b: Brief, p: Platform, related: list, level: str) -> None:
    names = {key: name for key, name, _ in related}
    if not p.competitors:
        e = b.cite(
            "course_skills", f"No catalog course teaches {b.skill_name} or its related skills."
        )
        b.say("competition", "No catalog course covers this ground.", e)
        return
    bench = []
    if p.catalog_completion is not None:
        bench.append(f"median completion rate {pct(p.catalog_completion)}")
    if p.catalog_rating is not None:
        bench.append(f"median rating {p.catalog_rating:.1f}")
    base = b.cite(
        "instructor_course_summaries (courses with at least k learners)",
        "Catalog: " + ", ".join(bench or ["no course figures yet"]) + ".",
    )
    for c in p.competitors:
        taught = [names.get(s, s) for s in c.related_taught]
        figures = [
            f"completion {pct(c.completion_rate)}"
            if c.completion_rate is not None
            else "completion not shown (under k learners)"
        ]
        if c.avg_rating is not None:
            figures.append(f"rating {c.avg_rating:.1f}")
        e = b.cite(
            "courses, course_skills, instructor_course_summaries",
            f"{c.title} ({c.course_id}): {c.level} level, {c.minutes} min; "
            + ("teaches " + b.skill_name if c.teaches_skill else "does not teach " + b.skill_name)
            + (f"; teaches {', '.join(taught)}" if taught else "")
            + "; "
            + ", ".join(figures)
            + ".",
        )
        b.say(
            "competition",
            f"{c.title}: {'; '.join(_shortfalls(b, c, p, level)) or 'covers it; a new course must do better on the figures below'}.",
            e,
            base,
        )


def _shortfalls(b: Brief, c, p: Platform, level: str) -> list[str]:
    why = []
    if not c.teaches_skill:
        why.append(f"does not teach {b.skill_name}")
    if c.level and c.level != level:
        why.append(f"{c.level} level, not {level}")
    if (
        c.completion_rate is not None
        and p.catalog_completion is not None
        and c.completion_rate < p.catalog_completion
    ):
        why.append(
            f"completion {pct(c.completion_rate)} against a catalog median of {pct(p.catalog_completion)}"
        )
    if (
        c.avg_rating is not None
        and p.catalog_rating is not None
        and c.avg_rating < p.catalog_rating
    ):
        why.append(f"rated {c.avg_rating:.1f} against {p.catalog_rating:.1f}")
    return why
