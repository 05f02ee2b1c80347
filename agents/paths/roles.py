"""Match a learner's goal in their own words ("I want to become a data analyst") to an O*NET
occupation, whose skills the path then covers.

TF-IDF over word-bounded character n-grams of every occupation's title and the alternate titles
O*NET lists for it (what postings and people call the job), cosine similarity, and per occupation
its best-matching title. Character n-grams forgive plurals, spelling and word order ("analyst,
data"); the alternate titles carry the words people use ("BI developer", "pharmacy tech"). The
alternate titles the seed holds out (`split = 'evaluation'`) are never matched against: they
measure the matcher (`python -m agents.paths.roles`, beside a plain string-match baseline).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

SURE_SCORE = 0.6  # below this cosine, or ...
SURE_MARGIN = 0.05  # ... this close to the runner-up occupation, the learner is asked to confirm
GOAL_WORDS = re.compile(
    r"\b(i|id|im|ive|want|would|like|to|become|be|an?|work|working|as|get|job|career|in|my|"
    r"goal|is|role|the)\b"
)


def normalize(text: str) -> str:
    """Lower case, letters and digits only, and the goal phrasing around a title dropped."""
    text = re.sub(r"[^a-z0-9]+", " ", text.casefold().replace("'", "").replace("’", ""))
    return " ".join(GOAL_WORDS.sub(" ", text).split()) or " ".join(text.split())


@dataclass(frozen=True)
class RoleMatch:
    onet_soc_code: str
    title: str  # the occupation's title
    via: str  # the title the words matched
    score: float


class RoleMatcher:
    def __init__(self, occupations: pl.DataFrame, alternate_titles: pl.DataFrame):
        """`occupations`: onet_soc_code, title; `alternate_titles`: onet_soc_code,
        alternate_title, short_title, split (rows with split 'evaluation' are left out)."""
        alternates = alternate_titles.filter(pl.col("split") == "match")
        rows = (
            pl.concat(
                [
                    occupations.select("onet_soc_code", via="title"),
                    alternates.select("onet_soc_code", via="alternate_title"),
                    alternates.drop_nulls("short_title").select("onet_soc_code", via="short_title"),
                ]
            )
            .unique(maintain_order=True)
            .with_columns(text=pl.col("via").map_elements(normalize, return_dtype=pl.String))
        )
        self.titles = dict(zip(occupations["onet_soc_code"], occupations["title"], strict=True))
        self.codes = np.array(rows["onet_soc_code"].to_list())
        self.via = rows["via"].to_list()
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        self.matrix = self.vectorizer.fit_transform(rows["text"].to_list())

    @classmethod
    def from_warehouse(cls, con: duckdb.DuckDBPyConnection) -> RoleMatcher:
        """From the reference seeds dbt loaded into the warehouse."""
        return cls(
            con.sql("select onet_soc_code, title from reference.onet_occupations").pl(),
            con.sql("select * from reference.onet_alternate_titles").pl(),
        )

    @classmethod
    def from_seeds(cls, folder: Path) -> RoleMatcher:
        """From the seed CSVs themselves (the same rows, before dbt loads them)."""
        return cls(
            pl.read_csv(folder / "onet_occupations.csv", infer_schema=False),
            pl.read_csv(folder / "onet_alternate_titles.csv", infer_schema=False),
        )

    def match(self, text: str, k: int = 3) -> list[RoleMatch]:
        """The k best occupations for `text`, best first (each scored by its best title)."""
        return self.match_many([text], k)[0]

    def match_many(self, texts: list[str], k: int = 3) -> list[list[RoleMatch]]:
        queries = self.vectorizer.transform([normalize(t) for t in texts])
        scores = (queries @ self.matrix.T).toarray()
        return [self._best(row, k) for row in scores]

    def _best(self, scores: np.ndarray, k: int) -> list[RoleMatch]:
        found: dict[str, RoleMatch] = {}
        # the top rows hold the top k occupations unless many titles share one occupation
        top = np.argpartition(-scores, min(200, len(scores) - 1))[:200]
        for i in top[np.argsort(-scores[top], kind="stable")]:
            code = self.codes[i]
            if code not in found:
                found[code] = RoleMatch(code, self.titles[code], self.via[i], float(scores[i]))
                if len(found) == k:
                    break
        return list(found.values())

    @staticmethod
    def sure(matches: list[RoleMatch]) -> bool:
        """Whether the best match is clear enough to take without asking the learner."""
        if not matches or matches[0].score < SURE_SCORE:
            return False
        return len(matches) == 1 or matches[0].score - matches[1].score >= SURE_MARGIN


def string_match(occupations: pl.DataFrame, alternate_titles: pl.DataFrame):
    """The plain baseline over the same titles: the one sharing the largest share of words with
    the query (Jaccard; an exact title scores 1)."""
    alternates = alternate_titles.filter(pl.col("split") == "match")
    titles = [*occupations["title"], *alternates["alternate_title"]]
    codes = np.array([*occupations["onet_soc_code"], *alternates["onet_soc_code"]])
    words = CountVectorizer(binary=True, tokenizer=str.split, token_pattern=None, lowercase=False)
    matrix = words.fit_transform([normalize(t) for t in titles])
    sizes = np.asarray(matrix.sum(axis=1)).ravel()

    def best(texts: list[str]) -> list[str]:
        queries = words.transform([normalize(t) for t in texts])
        shared = (queries @ matrix.T).toarray()
        union = sizes[None, :] + np.asarray(queries.sum(axis=1)) - shared
        return codes[np.argmax(shared / np.maximum(union, 1), axis=1)].tolist()

    return best


def held_out_titles(alternates: pl.DataFrame, matcher: RoleMatcher) -> pl.DataFrame:
    """alternate_title, codes: the held-out titles, less those that read the same as a title the
    matcher knows (an occupation's own or a short title): those would be found by rote."""
    known = {normalize(t) for t in matcher.via}
    return (
        alternates.filter(pl.col("split") == "evaluation")
        .group_by("alternate_title")
        .agg(codes=pl.col("onet_soc_code"))
        .filter(
            ~pl.col("alternate_title")
            .map_elements(normalize, return_dtype=pl.String)
            .is_in(list(known))
        )
        .sort("alternate_title")
    )


def evaluate(seeds: Path, every: int = 1) -> dict:
    """Top-1 and top-3 accuracy on the held-out alternate titles (every `every`-th of them), ours
    beside the baseline. A title O*NET lists under several occupations counts as right for any
    of them."""
    occupations = pl.read_csv(seeds / "onet_occupations.csv", infer_schema=False)
    alternates = pl.read_csv(seeds / "onet_alternate_titles.csv", infer_schema=False)
    matcher = RoleMatcher(occupations, alternates)
    held_out = held_out_titles(alternates, matcher).gather_every(every)
    baseline = string_match(occupations, alternates)
    titles, codes = held_out["alternate_title"].to_list(), held_out["codes"].to_list()
    top1 = top3 = base = 0
    for start in range(0, len(titles), 500):  # in batches: one sparse product per batch
        batch = titles[start : start + 500]
        for found, right in zip(matcher.match_many(batch), codes[start : start + 500], strict=True):
            top1 += found[0].onet_soc_code in right
            top3 += any(m.onet_soc_code in right for m in found)
        base += sum(
            b in right for b, right in zip(baseline(batch), codes[start : start + 500], strict=True)
        )
    n = held_out.height
    return {"titles": n, "top1": top1 / n, "top3": top3 / n, "baseline_top1": base / n}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Measure role matching on the O*NET alternate titles held out of matching."
    )
    parser.add_argument("--seeds", type=Path, default=Path(__file__).parents[2] / "seeds")
    r = evaluate(parser.parse_args().seeds)
    print(
        f"{r['titles']:,} held-out titles: top-1 {r['top1']:.3f}, top-3 {r['top3']:.3f}; "
        f"plain string match top-1 {r['baseline_top1']:.3f}"
    )


if __name__ == "__main__":
    main()
