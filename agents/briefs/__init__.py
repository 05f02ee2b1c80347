"""Content briefs: a plan for a new course where demand outruns the catalog (issue 16, part 3).

    pathwise brief list                          the skills with the widest unmet demand
    pathwise brief make SKILL [--pdf] [--polish] a brief as Markdown (and PDF)
    pathwise brief backtest                      the demand forecast on Coursera's dated ratings
    app: Briefs (instructors, admins)            the same brief, downloadable

From platform trends (`platform.py`: search demand and its growth, unmatched searches, the content
gap, enrolments on related skills, k-anonymous learner groups, the catalog) and industry signals
(`industry.py`: O*NET hot and in-demand technologies, job postings, ESCO occupations), templates
(`compose.py`) write the brief offline: every sentence cites evidence items and every number it
states is written in one of them first. The language model may then polish the prose
(`polish.py`), sentence by sentence, and a sentence whose facts changed keeps its template
(`facts.py`). Exported as Markdown and PDF (`export.py`). Reads the published snapshot, as the
app does; writes nothing.
"""

from __future__ import annotations

import duckdb

from agents.briefs import industry, platform
from agents.briefs.compose import Brief, compose
from agents.briefs.export import markdown, pdf
from agents.briefs.polish import polish
from pathwise.settings import Settings, get_settings

__all__ = ["Brief", "gaps", "generate", "markdown", "pdf", "resolve"]

RELATED = 4  # related skills considered for modules and competitors


def gaps(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict]:
    """The skills a brief is worth writing for: the widest unmet demand first."""
    return platform.gaps(con, limit)


def resolve(con: duckdb.DuckDBPyConnection, skill: str) -> str:
    """The skill key for a name or key as typed ('Microsoft Visio', 'microsoft visio')."""
    key = industry.skill_key(skill)
    rows = con.execute("select skill_key from content_gaps where skill_key = ?", [key]).fetchall()
    if not rows:
        raise KeyError(f"no skill {skill!r} in content_gaps: `pathwise brief list` shows the gaps")
    return rows[0][0]


def generate(
    con: duckdb.DuckDBPyConnection,
    skill: str,
    snapshot: str,
    settings: Settings | None = None,
    *,
    polished: bool = False,
) -> Brief:
    """The brief for `skill` from the marts behind `con` (a snapshot's views): the template's,
    its prose then polished by the language model if `polished` (facts checked, per sentence)."""
    settings = settings or get_settings()
    key = resolve(con, skill)
    name = con.execute("select skill_name from content_gaps where skill_key = ?", [key]).fetchall()[
        0
    ][0]
    vocabulary = {r[0] for r in con.execute("select skill_key from content_gaps").fetchall()}
    ind = industry.signals(name, settings.shared_data, vocabulary)
    related = [(industry.skill_key(n), n, shared) for n, shared in ind.related[:RELATED]]
    p = platform.collect(
        con, key, [r[0] for r in related], ind.occupation_titles, settings.k_anonymity
    )
    brief = compose(p, ind, related, snapshot, settings.k_anonymity)
    if polished:
        polish(brief, settings, known_names(con) | set(ind.occupation_titles))
    return brief


def known_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names a polished sentence may only use if its template or evidence does: every catalog
    course and every skill."""
    rows = con.execute(
        "select course_title from courses where course_title is not null "
        "union select skill_name from content_gaps where skill_name is not null"
    ).fetchall()
    return {r[0] for r in rows}
