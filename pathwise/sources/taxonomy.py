"""Skills and occupations from O*NET 29.2 and ESCO, and the reference seeds built from them.

Readers return polars frames with plain column names. `build_seeds` writes the subsets Pathwise
ships in `seeds/` (both licenses allow copying with attribution; see `seeds/README.md`):

- occupations in job zones 2-4 (some to considerable preparation: the roles adults retrain for
  online; zone 1 needs no training, zone 5 a graduate degree) with at least 3 hot technologies;
- technology skills that employers' postings flag as hot or in demand, plus ESCO's digital (ICT)
  and transversal skills;
- the occupation -> technology skill links between them.

Regenerate with `pathwise seeds` (see `--help`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import polars as pl

ONET_DIR = Path("skills/onet_29_2")
ESCO_DIR = Path("skills/esco")
JOB_ZONES = (2, 3, 4)
MIN_HOT_TECHNOLOGIES = 3

ONET_ATTRIBUTION = (
    "This product includes information from O*NET 29.2 Database by the U.S. Department of Labor, "
    "Employment and Training Administration (USDOL/ETA). Used under the CC BY 4.0 license. "
    "O*NET® is a trademark of USDOL/ETA. The seeds are a subset of the database, reshaped and "
    "given slug ids by Pathwise; USDOL/ETA has not approved, endorsed, or tested these "
    "modifications."
)
ESCO_ATTRIBUTION = (
    "This product uses the ESCO classification of the European Commission "
    "(https://esco.ec.europa.eu), reused under the Commission's reuse policy (Decision "
    "2011/833/EU). The seeds are a subset of ESCO v1.0.x, reshaped by Pathwise."
)


def _read_onet(shared_data: Path, name: str) -> pl.DataFrame:
    # O*NET text files are tab-separated with no quoting (descriptions contain quote marks).
    return pl.read_csv(
        shared_data / ONET_DIR / name, separator="\t", quote_char=None, infer_schema=False
    )


def read_onet_occupations(shared_data: Path) -> pl.DataFrame:
    """All O*NET occupations: onet_soc_code, title, description, job_zone (null if unrated)."""
    occupations = _read_onet(shared_data, "Occupation Data.txt").select(
        onet_soc_code="O*NET-SOC Code", title="Title", description="Description"
    )
    zones = _read_onet(shared_data, "Job Zones.txt").select(
        onet_soc_code="O*NET-SOC Code", job_zone=pl.col("Job Zone").cast(pl.Int8)
    )
    return occupations.join(zones, on="onet_soc_code", how="left")


def read_onet_alternate_titles(shared_data: Path) -> pl.DataFrame:
    """O*NET's alternate titles (what job postings and people call an occupation):
    onet_soc_code, alternate_title, short_title (null if none)."""
    return _read_onet(shared_data, "Alternate Titles.txt").select(
        onet_soc_code="O*NET-SOC Code",
        alternate_title="Alternate Title",
        short_title=pl.col("Short Title").replace("n/a", None),
    )


def read_onet_technology_skills(shared_data: Path) -> pl.DataFrame:
    """Occupation -> technology rows: onet_soc_code, skill_name, commodity_title, hot, in_demand."""
    return _read_onet(shared_data, "Technology Skills.txt").select(
        onet_soc_code="O*NET-SOC Code",
        skill_name="Example",
        commodity_title="Commodity Title",
        hot_technology=pl.col("Hot Technology") == "Y",
        in_demand=pl.col("In Demand") == "Y",
    )


def read_esco_skill_groups(shared_data: Path) -> pl.DataFrame:
    """ESCO skill groups: uri, label."""
    return pl.read_csv(shared_data / ESCO_DIR / "skillGroups_en.csv", infer_schema=False).select(
        uri="conceptUri", label="preferredLabel"
    )


def read_esco_skills(shared_data: Path) -> pl.DataFrame:
    """ESCO digital (ICT) and transversal skills: uri, skill_name, description, category.

    The category is the label of the skill's broader skill group (broaderConceptUri lists
    broader skills and groups alike; skillGroups_en.csv tells which are groups).
    """
    groups = read_esco_skill_groups(shared_data)
    skills = pl.concat(
        pl.read_csv(shared_data / ESCO_DIR / name, infer_schema=False).select(
            uri="conceptUri",
            skill_name="preferredLabel",
            description="description",
            broader=pl.col("broaderConceptUri").str.split(" | "),
        )
        for name in ("ictSkillsCollection_en.csv", "transversalSkillsCollection_en.csv")
    ).unique("uri", keep="first", maintain_order=True)
    categories = (
        skills.select("uri", "broader")
        .explode("broader")
        .join(groups, left_on="broader", right_on="uri")
        .group_by("uri", maintain_order=True)
        .agg(category=pl.col("label").first())
    )
    return skills.join(categories, on="uri", how="left").drop("broader")


def slugify(name: str) -> str:
    """Stable lowercase slug: 'C++' -> 'c-plus-plus', 'Microsoft Excel' -> 'microsoft-excel'."""
    for symbol, word in (("+", " plus "), ("#", " sharp "), ("&", " and "), ("@", " at ")):
        name = name.replace(symbol, word)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _skill_ids(prefix: str, names: pl.Series) -> pl.Series:
    """`prefix-slug`; names whose slugs collide get a short hash of the exact name appended."""
    slugs = [f"{prefix}-{slugify(n)}" for n in names]
    seen: dict[str, int] = {}
    for s in slugs:
        seen[s] = seen.get(s, 0) + 1
    return pl.Series(
        "skill_id",
        [
            s if seen[s] == 1 else f"{s}-{hashlib.md5(n.encode()).hexdigest()[:6]}"
            for s, n in zip(slugs, names, strict=True)
        ],
    )


def build_seeds(shared_data: Path, out_dir: Path) -> dict[str, int]:
    """Write the seed CSVs and their README into `out_dir`; returns rows written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tech = read_onet_technology_skills(shared_data)
    hot_counts = tech.group_by("onet_soc_code").agg(hot=pl.col("hot_technology").sum())
    occupations = (
        read_onet_occupations(shared_data)
        .filter(pl.col("job_zone").is_in(JOB_ZONES))
        .join(hot_counts, on="onet_soc_code")
        .filter(pl.col("hot") >= MIN_HOT_TECHNOLOGIES)
        .drop("hot")
        .sort("onet_soc_code")
    )

    flagged = tech.filter(pl.col("hot_technology") | pl.col("in_demand"))
    # A technology can sit under several commodity titles; keep its most frequent one.
    onet_skills = (
        tech.filter(pl.col("skill_name").is_in(flagged["skill_name"].implode()))
        .group_by("skill_name", "commodity_title")
        .len()
        .sort(["skill_name", "len", "commodity_title"], descending=[False, True, False])
        .unique("skill_name", keep="first", maintain_order=True)
        .select("skill_name", category="commodity_title", source=pl.lit("onet"))
    )
    esco_skills = read_esco_skills(shared_data).select(
        "skill_name", "category", source=pl.lit("esco")
    )
    skills = pl.concat(
        [
            onet_skills.with_columns(_skill_ids("onet", onet_skills["skill_name"])),
            esco_skills.with_columns(_skill_ids("esco", esco_skills["skill_name"])),
        ]
    ).select("skill_id", "skill_name", "category", "source")

    role_skills = (
        flagged.join(occupations.select("onet_soc_code", role_title="title"), on="onet_soc_code")
        .join(skills.filter(pl.col("source") == "onet"), on="skill_name")
        .group_by("onet_soc_code", "role_title", "skill_id", maintain_order=True)
        .agg(pl.col("hot_technology").any(), pl.col("in_demand").any())
        .sort("onet_soc_code", "skill_id")
    )

    # Alternate titles match a learner's words to an occupation (agents/paths/roles.py). One in
    # five, chosen by a hash of the title, is kept out of matching to measure it honestly.
    alternate_titles = (
        read_onet_alternate_titles(shared_data)
        .join(occupations.select("onet_soc_code"), on="onet_soc_code")
        .unique(["onet_soc_code", "alternate_title"])
        .with_columns(
            split=pl.col("alternate_title").map_elements(_evaluation_split, return_dtype=pl.String)
        )
        .sort("onet_soc_code", "alternate_title")
    )

    files = {
        "onet_occupations.csv": occupations,
        "onet_alternate_titles.csv": alternate_titles,
        "skills.csv": skills,
        "role_skills.csv": role_skills,
    }
    for name, frame in files.items():
        frame.write_csv(out_dir / name)
    (out_dir / "README.md").write_text(_readme({n: f.height for n, f in files.items()}))
    return {name: frame.height for name, frame in files.items()}


def _evaluation_split(title: str) -> str:
    return "evaluation" if hashlib.sha256(title.encode()).digest()[0] < 256 // 5 else "match"


def _readme(rows: dict[str, int]) -> str:
    return f"""# Reference seeds

Generated by `pathwise seeds` from the public data in `../shared/data/skills/`
(see `pathwise/sources/taxonomy.py` for the exact subsets). Do not edit by hand: regenerate.
dbt loads them as seeds (schema `reference`); the simulator builds its catalog and the learners'
target roles from them.

| file | rows | what | origin |
|---|---|---|---|
| `onet_occupations.csv` | {rows["onet_occupations.csv"]:,} | onet_soc_code, title, description, job_zone: occupations in job zones 2-4 with at least {MIN_HOT_TECHNOLOGIES} hot technologies | O*NET 29.2 `Occupation Data.txt`, `Job Zones.txt`, `Technology Skills.txt` |
| `skills.csv` | {rows["skills.csv"]:,} | skill_id (slug: `onet-…` / `esco-…`), skill_name, category (O*NET commodity title or ESCO skill group), source | O*NET technology skills flagged `Hot Technology` or `In Demand`; ESCO ICT and transversal skill collections with `skillGroups_en.csv` |
| `onet_alternate_titles.csv` | {rows["onet_alternate_titles.csv"]:,} | onet_soc_code, alternate_title, short_title, split: what postings and people call each seeded occupation; `split` = evaluation for the one in five (by a hash of the title) kept out of role matching to measure it | O*NET 29.2 `Alternate Titles.txt` |
| `role_skills.csv` | {rows["role_skills.csv"]:,} | onet_soc_code, role_title, skill_id, hot_technology, in_demand: the flagged technologies of each seeded occupation | O*NET 29.2 `Technology Skills.txt` |

## Versions and licenses

- **O*NET 29.2 Database** (February 2025), https://www.onetcenter.org/database.html, licensed
  under Creative Commons Attribution 4.0 International (https://www.onetcenter.org/license_db.html).

  {ONET_ATTRIBUTION}

- **ESCO v1.0.x** (European Skills, Competences, Qualifications and Occupations), reuse policy of the
  European Commission.

  {ESCO_ATTRIBUTION}

## Regenerate

```bash
pathwise seeds            # reads $PATHWISE_SHARED_DATA, writes seeds/
pathwise seeds --help
```
"""
