"""What learners type: searches, forum posts, drop reasons and rating comments.

Texts come from fixed templates filled with the catalog's own titles and skills and the
learners' target roles, built once per run into pools the day simulation draws from by index,
so no text is formatted per event. None holds personal data: only the injected `pii_text`
faults do (see `faults`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pathwise.sources.simulator.catalog import Catalog, Roles, short_name

SEARCH_TEMPLATES = ("{}", "learn {}", "{} course", "{} for beginners", "advanced {}")
FORUM_COURSE = (
    "How do I approach the exercise in module {pos} of {title}? My {skill} solution runs but the result looks wrong.",
    "Is there a cheat sheet for {skill}? The pace of {title} is quite fast for me.",
    "Sharing my notes for {title}, module {pos}: practise {skill} on a small real example first, then the rest clicks.",
    "Stuck on the quiz in module {pos} of {title}. Which part of the {skill} material should I review?",
    "Anyone else taking {title} this week? Looking for a study buddy to practise {skill}.",
)
FORUM_GENERAL = (
    "What should I learn first to work as one of the {role}?",
    "How many hours a week did it take you to move into a job among {role}?",
    "Which certificates matter when applying for jobs as one of the {role}?",
)
DROP_REASONS = {  # by the main cause of the drop
    "hard": ("too difficult for me", "I was missing the basics", "the quizzes were too hard"),
    "easy": ("too basic, I knew most of it", "nothing new for me"),
    "format": (
        "too many videos, I prefer reading",
        "not enough practice",
        "format did not suit me",
    ),
    "time": ("no time at the moment", "work got busy", "will come back later"),
}
DROP_CAUSES = tuple(DROP_REASONS)  # a cause's index is its group in TextPools.reasons
COMMENTS = {  # by stars: 1-2, 3, 4-5
    "low": ("Too hard to follow.", "Not what I expected.", "The format did not work for me."),
    "mid": ("Decent course, a bit uneven.", "OK overall, some modules drag."),
    "high": ("Great course, very practical!", "Clear explanations and good exercises."),
}

# A grouped pool: all texts, then each group's first index and size.
Grouped = tuple[pl.Series, np.ndarray, np.ndarray]


@dataclass
class TextPools:
    queries: pl.Series  # [skill * len(SEARCH_TEMPLATES) + template] search queries
    results: np.ndarray  # [skill] number of courses teaching the skill
    quiz_ids: pl.Series  # [module] the module's quiz id, `<module_id>-Q`
    forum_course: pl.Series  # [module * len(FORUM_COURSE) + template] posts about a course
    forum_general: pl.Series  # [role * len(FORUM_GENERAL) + template] posts about a career
    comments: Grouped  # rating comments, grouped by stars (COMMENTS)
    reasons: Grouped  # drop reasons, grouped by cause (DROP_REASONS)


def text_pools(catalog: Catalog, roles: Roles, skills: pl.DataFrame) -> TextPools:
    """Text pools the day simulation draws from by index, so no text is built per event."""

    def grouped(groups: dict) -> Grouped:
        size = np.array([len(g) for g in groups.values()])
        return pl.Series([x for g in groups.values() for x in g]), np.cumsum(size) - size, size

    names = skills["skill_name"].to_list()
    taught = dict(catalog.course_skills.group_by("skill").len().iter_rows())
    course_skill = [short_name(names[catalog.topic_skill[t]]) for t in catalog.topic]
    module_course = np.repeat(np.arange(len(catalog.topic)), catalog.n_modules)
    titles = catalog.courses["title"].to_list()
    return TextPools(
        queries=pl.Series(
            [tpl.format(short_name(s).lower()) for s in names for tpl in SEARCH_TEMPLATES]
        ),
        results=np.array([taught.get(s, 0) for s in names]),
        quiz_ids=catalog.modules["module_id"] + "-Q",
        forum_course=pl.Series(
            [
                tpl.format(pos=pos, title=titles[c], skill=course_skill[c])
                for pos, c in zip(catalog.modules["position"], module_course, strict=True)
                for tpl in FORUM_COURSE
            ]
        ),
        forum_general=pl.Series(
            [tpl.format(role=r) for r in roles.titles for tpl in FORUM_GENERAL]
        ),
        comments=grouped(COMMENTS),
        reasons=grouped(DROP_REASONS),
    )
