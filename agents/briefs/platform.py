"""Platform signals for a skill, read from the published marts (the snapshot's tables).

Everything here is an aggregate: the persona's groups are k-anonymous (`k_cells`), competing
courses carry only `instructor_course_summaries`' figures (null under k enrolments or ratings),
and demand comes from `content_gaps`, `unmatched_search_topics` and `skill_demand_weeks`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import duckdb

from agents.briefs.industry import phrases, skill_key

LEVELS = ("beginner", "intermediate", "advanced")
NEXT_LEVEL = {"new": "beginner", "beginner": "intermediate", "intermediate": "advanced"}
BUDGETS = ((60, "under 1 h a week"), (120, "1-2 h a week"), (240, "2-4 h a week"))
OTHER = "other"


def k_cells(counts: dict[str, int], k: int, top: int = 5) -> list[tuple[str, int]]:
    """The `top` groups of at least k, largest first; the rest pooled as 'other'. When 'other'
    would hold fewer than k, the smallest shown group joins it (until it holds k or nothing is
    shown), so every count shown is at least k and none under k can be worked out by
    subtraction."""
    shown = sorted(((n, c) for n, c in counts.items() if c >= k), key=lambda x: (-x[1], x[0]))
    shown = shown[:top]
    other = sum(counts.values()) - sum(c for _, c in shown)
    while 0 < other < k and shown:
        other += shown.pop()[1]
    return shown + ([(OTHER, other)] if other >= k else [])


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.cursor()
    try:
        result = cur.execute(sql, params or [])
        names = [d[0] for d in result.description]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    finally:
        cur.close()


@dataclass
class Persona:
    learners: int  # learners aiming at a role that lists the skill (0 if under k)
    roles: list[tuple[str, int]] = field(default_factory=list)
    levels: list[tuple[str, int]] = field(default_factory=list)
    budgets: list[tuple[str, int]] = field(default_factory=list)
    median_weekly_minutes: int | None = None
    target_level: str = "beginner"


@dataclass
class Competitor:
    course_id: str
    title: str
    level: str | None
    teaches_skill: bool
    related_taught: list[str]
    minutes: int
    completion_rate: float | None
    avg_rating: float | None


@dataclass
class Platform:
    gap: dict  # the skill's content_gaps row
    gap_rank: int  # among skills with unmet demand (gap_score > 0), 1 = widest
    gaps_open: int
    topics: list[dict]  # unmatched_search_topics naming the skill
    weeks: list[dict]  # skill_demand_weeks, oldest first, whole weeks only
    related_enrolments: tuple[int, int]  # courses teaching related skills: last 7 days, 7 before
    persona: Persona
    competitors: list[Competitor]
    median_module_minutes: dict[str, int]  # per catalog level
    catalog_completion: float | None  # median over courses with a figure (k-anonymous)
    catalog_rating: float | None
    prerequisite_edges: set[tuple[str, str]]  # (skill key taught first, skill key taught after)
    skill_levels: dict[str, float]  # skill key -> mean level index of catalog courses teaching it


def gaps(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict]:
    """The skills with the widest unmet demand: what a brief is worth writing for."""
    return _rows(
        con,
        "select skill_key, skill_name, gap_score, search_count, course_count from content_gaps "
        "where gap_score > 0 order by gap_score desc, skill_name limit ?",
        [limit],
    )


def persona(con: duckdb.DuckDBPyConnection, roles: tuple[str, ...], k: int) -> Persona:
    """Learners whose target role lists the skill: their roles, the level they have shown (the
    hardest catalog level they completed, 'new' if none) and their weekly time budget."""
    learners = _rows(
        con,
        """
        with done as (
            select p.learner_key, max(case c.difficulty_label when 'beginner' then 1
                when 'intermediate' then 2 when 'advanced' then 3 end) as level
            from learner_course_progress p join courses c using (course_id)
            where p.status = 'completed' group by 1
        )
        select l.target_role, l.weekly_minutes, coalesce(d.level, 0) as level
        from learners l left join done d using (learner_key)
        where l.target_role in (select unnest(?::varchar[]))
        """,
        [list(roles)],
    )
    if len(learners) < k:
        return Persona(learners=0)
    level_names = ("new", *LEVELS)
    levels = Counter(level_names[r["level"]] for r in learners)
    minutes = sorted(r["weekly_minutes"] for r in learners if r["weekly_minutes"] is not None)

    def band(m: int | None) -> str:
        if m is None:
            return "not said"
        return next((label for top, label in BUDGETS if m < top), "4 h or more a week")

    targets = Counter(NEXT_LEVEL.get(level_names[r["level"]], "advanced") for r in learners)
    return Persona(
        learners=len(learners),
        roles=k_cells(Counter(r["target_role"] for r in learners), k),
        levels=k_cells(levels, k),
        budgets=k_cells(Counter(band(r["weekly_minutes"]) for r in learners), k),
        median_weekly_minutes=minutes[len(minutes) // 2] if len(minutes) >= k else None,
        target_level=max(LEVELS, key=lambda lv: (targets[lv], -LEVELS.index(lv))),
    )


def _catalog(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict, dict, set]:
    """Per course: title, level, minutes, figures; course -> skill keys; prerequisite edges."""
    courses = {
        r["course_id"]: r
        for r in _rows(
            con,
            """
            select c.course_id, c.course_title, c.difficulty_label,
                   coalesce(m.minutes, 0) as minutes, s.completion_rate, s.avg_rating
            from courses c
            left join (select course_id, sum(duration_minutes) as minutes
                       from course_modules group by 1) m using (course_id)
            left join instructor_course_summaries s using (course_id)
            """,
        )
    }
    taught: dict[str, set[str]] = {}
    for r in _rows(con, "select course_id, skill_name from course_skills"):
        taught.setdefault(r["course_id"], set()).add(skill_key(r["skill_name"]))
    edges = {
        (before, after)
        for r in _rows(con, "select course_id, prerequisite_course_id from course_prerequisites")
        for before in taught.get(r["prerequisite_course_id"], ())
        for after in taught.get(r["course_id"], ())
        if before != after
    }
    modules = {
        r["difficulty_label"]: int(r["minutes"])
        for r in _rows(
            con,
            "select c.difficulty_label, median(m.duration_minutes) as minutes "
            "from course_modules m join courses c using (course_id) group by 1",
        )
        if r["minutes"] is not None
    }
    return courses, taught, modules, edges


def _median(values: list[float]) -> float | None:
    values = sorted(values)
    return values[len(values) // 2] if values else None


def collect(
    con: duckdb.DuckDBPyConnection,
    key: str,
    related: list[str],
    roles: tuple[str, ...],
    k: int,
) -> Platform:
    """Everything the platform knows about the skill `key` and its `related` skills."""
    (gap,) = _rows(con, "select * from content_gaps where skill_key = ?", [key]) or [None]
    if gap is None:
        raise KeyError(f"no skill {key!r} in content_gaps: `pathwise brief list` shows the gaps")
    rank = _rows(
        con,
        "select count(*) filter (where gap_score > ?) + 1 as rank, "
        "count(*) filter (where gap_score > 0) as open from content_gaps",
        [gap["gap_score"]],
    )[0]
    words = phrases(gap["skill_name"])
    topics = [
        t
        for t in _rows(con, "select * from unmatched_search_topics order by search_count desc")
        if any(w == t["topic"] or w in t["topic"].split() or t["topic"] in w for w in words)
    ]
    weeks = _rows(
        con,
        "select * from skill_demand_weeks where skill_key = ? and is_full_week "
        "order by weeks_ago desc",
        [key],
    )
    related_weeks = _rows(
        con,
        "select weeks_ago, sum(enrolment_count) as n from skill_demand_weeks "
        "where skill_key in (select unnest(?::varchar[])) and weeks_ago < 2 group by 1",
        [related],
    )
    by_week = {r["weeks_ago"]: int(r["n"]) for r in related_weeks}
    courses, taught, modules, edges = _catalog(con)
    index = {lv: i + 1 for i, lv in enumerate(LEVELS)}
    skill_levels: dict[str, list[int]] = {}
    for course_id, keys in taught.items():
        level = index.get((courses.get(course_id) or {}).get("difficulty_label"))
        for s in keys:
            if level:
                skill_levels.setdefault(s, []).append(level)
    return Platform(
        gap=gap,
        gap_rank=int(rank["rank"]),
        gaps_open=int(rank["open"]),
        topics=topics,
        weeks=weeks,
        related_enrolments=(by_week.get(0, 0), by_week.get(1, 0)),
        persona=persona(con, roles, k),
        competitors=_competitors(courses, taught, key, related, words),
        median_module_minutes=modules,
        catalog_completion=_median(
            [c["completion_rate"] for c in courses.values() if c["completion_rate"] is not None]
        ),
        catalog_rating=_median(
            [c["avg_rating"] for c in courses.values() if c["avg_rating"] is not None]
        ),
        prerequisite_edges=edges,
        skill_levels={s: sum(v) / len(v) for s, v in skill_levels.items()},
    )


def _competitors(
    courses: dict, taught: dict, key: str, related: list[str], words: list[str], top: int = 4
) -> list[Competitor]:
    """Catalog courses teaching the skill, naming it in their title, or teaching its related
    skills: the most overlapping first."""
    found = []
    for course_id, c in courses.items():
        keys = taught.get(course_id, set())
        title = skill_key(c["course_title"] or "")
        teaches = key in keys or any(f" {w} " in f" {title} " for w in words)
        shared = [r for r in related if r in keys]
        if teaches or shared:
            found.append(
                Competitor(
                    course_id=course_id,
                    title=c["course_title"],
                    level=c["difficulty_label"],
                    teaches_skill=teaches,
                    related_taught=shared,
                    minutes=int(c["minutes"]),
                    completion_rate=c["completion_rate"],
                    avg_rating=c["avg_rating"],
                )
            )
    found.sort(key=lambda c: (not c.teaches_skill, -len(c.related_taught), c.course_id))
    return found[:top]
