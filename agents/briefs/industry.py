"""Industry signals for a skill, read from the public data in `PATHWISE_SHARED_DATA`.

- O*NET 29.2 Technology Skills: the occupations listing the skill, how many flag it as a hot
  technology or in demand (both flags come from employers' job postings), and the technologies
  listed with it most particularly (Jaccard similarity of the occupations listing each: what a
  course on it should connect to).
- ESCO v1.0.x occupations whose description or alternative labels name the skill.
- Google's 1,250 job postings whose responsibilities or qualifications name it.

Names are matched as whole words on text normalized like the warehouse's skill keys (the dbt
macro `skill_key`), without a trailing "software" ("Microsoft Office software" is written
"Microsoft Office"), and an acronym in the name ("AWS") counts too. Each file is read once per
process (about a second in all); a missing file gives no signal from it, said in the brief.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from pathwise.sources.taxonomy import read_onet_occupations, read_onet_technology_skills

ESCO_OCCUPATIONS = Path("skills/esco/occupations_en.csv")
JOB_POSTINGS = Path("skills/google_job_skills/job_skills.csv")
TOP = 5


def skill_key(name: str) -> str:
    """The warehouse's skill key (dbt macro `skill_key`): lowercase; runs of anything but letters,
    digits, `+`, `#` and `.` become a space; dots ending a word go."""
    key = re.sub(r"[^a-z0-9+#.]+", " ", name.lower())
    return re.sub(r"[.]+( |$)", " ", key).strip()


def phrases(name: str) -> list[str]:
    """What names the skill in running text: its key without a trailing 'software', and any
    acronym of three or more capitals in the name."""
    key = re.sub(r" software$", "", skill_key(name))
    acronyms = [a.lower() for a in re.findall(r"\b[A-Z]{3,}\b", name)]
    return [p for p in dict.fromkeys([key, *acronyms]) if len(p) >= 2]


def _pattern(name: str) -> str:
    return (
        r"(?:^|[^a-z0-9+#])(?:"
        + "|".join(re.escape(p) for p in phrases(name))
        + r")(?:$|[^a-z0-9+#])"
    )


@dataclass(frozen=True)
class Industry:
    onet_occupations: int
    onet_hot: int
    onet_in_demand: int
    top_occupations: tuple[str, ...]
    occupation_titles: tuple[str, ...]  # every occupation listing it (learners' target roles)
    related: tuple[tuple[str, int], ...]  # (technology, occupations listing both), most first
    esco_occupations: int | None  # None: the ESCO file is missing
    esco_examples: tuple[str, ...]
    postings: int | None  # None: the postings file is missing
    postings_total: int
    posting_titles: tuple[str, ...]


@cache
def _onet(shared_data: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    tech = read_onet_technology_skills(shared_data).with_columns(
        key=pl.col("skill_name").map_elements(skill_key, return_dtype=pl.String)
    )
    return tech, read_onet_occupations(shared_data).select("onet_soc_code", "title")


@cache
def _texts(path: Path, label: str, columns: tuple[str, ...]) -> pl.DataFrame | None:
    """`label` and the normalized text of `columns` per row of the CSV at `path` (None: none)."""
    if not path.exists():
        return None
    return pl.read_csv(path, infer_schema=False).select(
        label=label,
        text=pl.concat_str(list(columns), separator=" ", ignore_nulls=True).map_elements(
            skill_key, return_dtype=pl.String
        ),
    )


def signals(name: str, shared_data: Path, vocabulary: set[str]) -> Industry:
    """Industry signals for the skill `name`; related technologies only from `vocabulary` (skill
    keys the platform knows), so every module a brief proposes is a skill the warehouse tracks."""
    tech, occupations = _onet(shared_data)
    key = skill_key(name)
    rows = tech.filter(pl.col("key") == key)
    codes = rows["onet_soc_code"].unique()
    titles = (
        rows.join(occupations, on="onet_soc_code")
        .sort(["hot_technology", "in_demand", "title"], descending=[True, True, False])["title"]
        .unique(maintain_order=True)
    )
    # Ranked by Jaccard similarity of the occupations listing each, so that what every
    # occupation lists (office suites) does not crowd out what goes with this skill in particular.
    listing = tech.group_by("key").agg(listed=pl.col("onet_soc_code").n_unique())
    related = (
        tech.filter(
            pl.col("onet_soc_code").is_in(codes.implode())
            & (pl.col("key") != key)
            & pl.col("key").is_in(list(vocabulary))
        )
        .group_by("key")
        .agg(name=pl.col("skill_name").first(), occupations=pl.col("onet_soc_code").n_unique())
        .join(listing, on="key")
        .with_columns(
            jaccard=pl.col("occupations") / (len(codes) + pl.col("listed") - pl.col("occupations"))
        )
        .sort(["jaccard", "name"], descending=[True, False])
        .head(TOP)
    )
    pattern = _pattern(name)
    esco = _texts(
        shared_data / ESCO_OCCUPATIONS,
        "preferredLabel",
        ("preferredLabel", "altLabels", "description"),
    )
    postings = _texts(
        shared_data / JOB_POSTINGS,
        "Title",
        ("Responsibilities", "Minimum Qualifications", "Preferred Qualifications"),
    )
    esco_hits = None if esco is None else esco.filter(pl.col("text").str.contains(pattern))
    posting_hits = (
        None if postings is None else postings.filter(pl.col("text").str.contains(pattern))
    )
    return Industry(
        onet_occupations=len(codes),
        onet_hot=rows.filter("hot_technology")["onet_soc_code"].n_unique(),
        onet_in_demand=rows.filter("in_demand")["onet_soc_code"].n_unique(),
        top_occupations=tuple(titles.head(TOP)),
        occupation_titles=tuple(titles),
        related=tuple(zip(related["name"], related["occupations"], strict=True)),
        esco_occupations=None if esco_hits is None else len(esco_hits),
        esco_examples=() if esco_hits is None else tuple(esco_hits["label"].head(3)),
        postings=None if posting_hits is None else len(posting_hits),
        postings_total=0 if postings is None else len(postings),
        posting_titles=()
        if posting_hits is None
        else tuple(posting_hits["label"].unique(maintain_order=True).head(3)),
    )
