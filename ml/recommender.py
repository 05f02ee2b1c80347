"""The hybrid course recommender: collaborative filtering blended with content signals, under rules.

Pipeline (one nightly run, `train_and_recommend`):

    warehouse (staging + marts + reference)  ->  RecData  ->  Hybrid (fit)  ->  rank  ->  ml tables
                                                              as of a time      rules, diversity,
                                                              (evaluation)      reasons, format

Signals, each normalized to [0, 1] per learner and course, then blended with versioned weights
(admins override them through a control table; `weights=` here):

- collaborative: `implicit` ALS (or BPR) on a learner x course CSR matrix of confidences from
  enrolment, progress, completion, rating and recommendation clicks; min-max per learner.
- skill_gap: share of a course's skills that the learner's target role needs (O*NET seeds) and
  the learner does not have yet (stated skills and skills of passed courses).
- content_similarity: cosine between a course and the learner's history, over course features
  (skills, category, level, language, title words: for COCO, its knowledge graph).
- popularity: enrolments in the trailing window (trending), log-scaled; the cold-start list.
- level_fit: how close a course's difficulty is to the level the learner has shown (1 at their
  level, 0.5 one level off, 0 two off): the hardest course they passed or whose quizzes they
  average at least QUIZ_MASTERY in. 0 for learners who have shown no level yet and for courses
  of unknown difficulty (no evidence either way).

Each row keeps `contrib_<signal>` = weight x signal, so `score` = sum of contributions + `boost`
(admin boosts; 0 without controls). Rules: never enrolled or completed courses; prerequisites
met; difficulty at most one level above the learner's; no category takes more than
`DIVERSITY_CAP` places of each tier of the list; suppressed courses removed.

A prerequisite counts as met when the learner passed it, or showed they do not need it (as
platforms that accept prior learning do): they already have every skill it teaches (stated in
their profile or taught by a course they passed), or they passed a course of the same category
at least as hard (their level on that topic is at or above the prerequisite's). Quiz results
alone never waive a prerequisite; they only inform level_fit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime, timedelta

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit is slower with threaded BLAS

import duckdb
import numpy as np
import polars as pl
import scipy.sparse as sp

from pathwise.warehouse import table_exists

SIGNALS = ("collaborative", "skill_gap", "content_similarity", "popularity", "level_fit")
# The best shared weights on the validation splits (earlier interactions only) of the simulator
# and COCO: of the 768 grid points of `pathwise evaluate recs`, the one with the highest worst
# case (97.3% and 99.1% of each split's own best NDCG@10; COCO has no target roles, quizzes or
# passes, so skill_gap and level_fit are 0 there). Each dataset's own best is reported too;
# `hybrid_default_weights` in the report shows these on the test splits.
WEIGHTS_VERSION = "2026.11-3"
DEFAULT_WEIGHTS: dict[str, float] = {
    "collaborative": 0.5,
    "skill_gap": 0.25,
    "content_similarity": 0.5,
    "popularity": 0.25,
    "level_fit": 0.25,
}
QUIZ_MASTERY = 0.7  # a course's quiz average from which its difficulty counts as shown
ALS_PARAMS = {"factors": 64, "regularization": 0.1, "alpha": 10.0, "iterations": 15}
BPR_PARAMS = {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100}
FORMATS = ("video", "reading", "hands-on")
STYLE_FORMATS = {"watcher": "video", "reader": "reading", "hands-on": "hands-on"}
DIVERSITY_CAP = 3  # at most this many courses of one category per tier (see `_diversify`)
TRENDING_DAYS = 30
RANDOM_STATE = 42
BLOCK_CELLS = 4_000_000  # learner x course cells scored at once (bounds memory per block)

# Confidence of one learner-course pair: what each interaction adds (implicit feedback).
CONFIDENCE = {"enroll": 1.0, "progress": 2.0, "completed": 1.0, "passed": 1.0, "click": 0.5}


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


@dataclass
class RecData:
    """Everything the recommender reads, as plain frames (from the warehouse or built in memory)."""

    # course_id, title, description, category, difficulty, language, primary_format
    courses: pl.DataFrame
    course_skills: pl.DataFrame  # course_id, skill
    prerequisites: pl.DataFrame  # course_id, prerequisite_course_id
    learners: (
        pl.DataFrame
    )  # learner_key, target_role, current_skills (list), style_format, preferred_format
    role_skills: pl.DataFrame  # role, skill
    events: pl.DataFrame  # learner_key, course_id, kind, at, value (see `interaction_events`)
    quiz_scores: pl.DataFrame | None = None  # learner_key, course_id, at, score (each attempt)


# Which courses belong to a dataset when several share a warehouse (importers prefix their ids).
DATASETS = {"simulator": "course_id not like '%:%'", "coco": "course_id like 'coco:%'"}


def _dataset_filter(dataset: str | None) -> str:
    if dataset is None:
        return ""
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return f"where {DATASETS[dataset]}"


def load_data(con: duckdb.DuckDBPyConnection, dataset: str | None = None) -> RecData:
    """Read the catalog, learners, role skills and interaction events from the warehouse.

    `dataset` ('simulator' | 'coco') keeps one source's courses when several share a warehouse.
    """
    if not table_exists(con, "staging", "stg_pathwise__enrolments"):
        raise RuntimeError(
            "The warehouse has no staging models yet: run `pathwise build` (after `pathwise ingest`)."
        )
    where = _dataset_filter(dataset)

    def frame(sql: str) -> pl.DataFrame:
        return pl.from_arrow(con.execute(sql).to_arrow_table())

    courses = frame(f"""
        with module_formats as (
            select course_id, mode(module_format) as module_format
            from staging.stg_pathwise__modules group by course_id
        )
        select c.course_id, c.course_title as title, c.course_description as description,
               c.category, c.difficulty, c.language,
               coalesce(c.primary_format, m.module_format) as primary_format
        from staging.stg_pathwise__courses c
        left join module_formats m using (course_id)
        {where.replace("course_id", "c.course_id")}
        order by c.course_id""")
    if courses.is_empty():
        raise RuntimeError(
            f"No courses{f' of the {dataset} data' if dataset else ''} in "
            "the warehouse: import and ingest them first (e.g. `pathwise import coco "
            "../shared/data/coco --out var/landing/coco && pathwise ingest var/landing/coco && "
            "pathwise build`)."
        )
    course_skills = frame(
        f"select distinct course_id, skill_name as skill from staging.stg_pathwise__course_skills {where}"
    )
    prerequisites = frame(
        "select distinct course_id, prerequisite_course_id "
        f"from staging.stg_pathwise__course_prerequisites {where}"
    )
    # Sorted, so that a model does not depend on the order DuckDB returns rows in (ALS sums in
    # learner order; the last rating wins).
    events = frame(interaction_events_sql(dataset)).sort("at", "learner_key", "course_id", "kind")
    learners = frame(
        "select learner_key, target_role, current_skills, preferred_format from marts.learners"
        if table_exists(con, "marts", "learners")
        else "select distinct learner_key, null::varchar as target_role, "
        "null::varchar[] as current_skills, null::varchar as preferred_format "
        "from staging.stg_pathwise__enrolments"
    ).sort("learner_key")
    if dataset:  # learners of that source only
        learners = learners.join(events.select("learner_key").unique(), on="learner_key")
    styles = _learning_style_formats(con)
    learners = (
        learners.join(styles, on="learner_key", how="left")
        if styles is not None
        else (learners.with_columns(style_format=pl.lit(None, pl.String)))
    )
    quiz_scores = (
        frame(
            "select learner_key, course_id, submitted_at as at, score from "
            "staging.stg_pathwise__quiz_submissions where score is not null"
            + (f" and {DATASETS[dataset]}" if dataset else "")
            + " order by learner_key, course_id, submitted_at, score"
        )
        if table_exists(con, "staging", "stg_pathwise__quiz_submissions")
        else None
    )
    role_skills = frame(
        "select distinct rs.role_title as role, s.skill_name as skill "
        "from reference.role_skills rs join reference.skills s using (skill_id)"
        if table_exists(con, "reference", "role_skills")
        else "select null::varchar as role, null::varchar as skill where false"
    )
    return RecData(
        courses, course_skills, prerequisites, learners, role_skills, events, quiz_scores
    )


def _learning_style_formats(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """learner_key -> format of the detected learning style, when `ml.learning_styles` exists."""
    if not table_exists(con, "ml", "learning_styles"):
        return None
    cols = {r[0] for r in con.execute("describe warehouse.ml.learning_styles").fetchall()}
    style = next((c for c in ("learning_style", "style") if c in cols), None)
    if "learner_key" not in cols or style is None:
        return None
    mapping = ", ".join(f"('{k}', '{v}')" for k, v in STYLE_FORMATS.items())
    rows = con.execute(
        f"select s.learner_key, any_value(m.fmt) as style_format "
        f"from warehouse.ml.learning_styles s join (values {mapping}) m(style, fmt) "
        f"on s.{style} = m.style group by s.learner_key"
    ).to_arrow_table()
    return pl.from_arrow(rows)


def interaction_events_sql(dataset: str | None = None) -> str:
    """One row per interaction event: learner_key, course_id, kind, at, value.

    kinds: enroll; progress (value = share of the course's modules, first completion of each);
    passed / failed / dropped (course ends); rating (value = stars); click (recommendation).
    """
    where = _dataset_filter(dataset)
    return f"""
        with modules as (
            select course_id, count(*) as n from staging.stg_pathwise__modules group by course_id
        ),
        first_completions as (
            select learner_key, course_id, module_id, min(completed_at) as at
            from staging.stg_pathwise__module_completions group by all
        ),
        events as (
            select learner_key, course_id, 'enroll' as kind, enrolled_at as at, 1.0 as value
            from staging.stg_pathwise__enrolments
            union all
            select f.learner_key, f.course_id, 'progress', f.at, 1.0 / m.n
            from first_completions f join modules m using (course_id)
            union all
            select learner_key, course_id,
                   case when is_passed then 'passed' when is_completed then 'failed'
                        else 'dropped' end,
                   ended_at, 1.0
            from staging.stg_pathwise__course_ends
            union all
            select learner_key, course_id, 'rating', rated_at, stars::double
            from staging.stg_pathwise__ratings
            union all
            select learner_key, course_id, 'click', clicked_at, 1.0
            from staging.stg_pathwise__rec_clicks
        )
        select * from events {where}
    """


def interactions(events: pl.DataFrame, as_of: datetime | None = None) -> pl.DataFrame:
    """Learner x course pairs as of a time (events before it only), with a confidence.

    confidence = 1 enrolled + 2 x progress share + 1 completed + 1 passed + 0.5 per click (<= 2)
    + 0.5 x (stars - 3), floored at 0.1 (a disliked course was still taken).
    """
    ev = events if as_of is None else events.filter(pl.col("at") < as_of)
    k = pl.col("kind")
    pairs = ev.group_by("learner_key", "course_id").agg(
        enrolled=(k == "enroll").any(),
        progress=pl.col("value").filter(k == "progress").sum().clip(0, 1),
        completed=k.is_in(["passed", "failed"]).any(),
        passed=(k == "passed").any(),
        clicks=(k == "click").sum(),
        stars=pl.col("value").filter(k == "rating").last(),
        first_at=pl.col("at").min(),
        last_at=pl.col("at").max(),
    )
    c = CONFIDENCE
    return pairs.with_columns(
        confidence=(
            c["enroll"] * pl.col("enrolled")
            + c["progress"] * pl.col("progress")
            + c["completed"] * pl.col("completed")
            + c["passed"] * pl.col("passed")
            + c["click"] * pl.col("clicks").clip(0, 2)
            + 0.5 * (pl.col("stars").fill_null(3.0) - 3.0)
        ).clip(lower_bound=0.1)
    ).sort("learner_key", "course_id")


# ------------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------------


def _csr(rows: np.ndarray, cols: np.ndarray, values, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    return m


def _l2_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.diags(1 / np.where(norms > 0, norms, 1)).dot(m).tocsr()


def _words(text: str | None) -> list[str]:
    out = []
    for w in (text or "").lower().replace("/", " ").replace("-", " ").split():
        w = "".join(ch for ch in w if ch.isalnum())
        if len(w) > 2:
            out.append(w)
    return out


def fit_factors(
    X: sp.csr_matrix, algorithm: str = "als", params: Mapping | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Learner and course factors from `implicit` on X (learner x course CSR of confidences).

    ALS: confidence = alpha x X; BPR: only which pairs are non-zero. CPU, fixed random_state.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = _model(algorithm, params)
        model.fit(X, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def _model(algorithm: str, params: Mapping | None):
    if algorithm == "als":
        from implicit.cpu.als import AlternatingLeastSquares

        p = {**ALS_PARAMS, **(params or {})}
        model = AlternatingLeastSquares(
            factors=int(p["factors"]),
            regularization=float(p["regularization"]),
            alpha=float(p["alpha"]),
            iterations=int(p["iterations"]),
            random_state=RANDOM_STATE,
        )
    elif algorithm == "bpr":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = {**BPR_PARAMS, **(params or {})}
        model = BayesianPersonalizedRanking(
            factors=int(p["factors"]),
            learning_rate=float(p["learning_rate"]),
            regularization=float(p["regularization"]),
            iterations=int(p["iterations"]),
            random_state=RANDOM_STATE,
            # Hogwild SGD on several threads gives different factors run to run; one thread
            # makes the fixed random_state mean the same model every time.
            num_threads=1,
        )
    else:
        raise ValueError(f"algorithm must be 'als' or 'bpr', not {algorithm!r}")
    return model


@dataclass
class Hybrid:
    """The fitted recommender for one point in time: indexes, matrices and factors.

    Matrices are learner x course (rows follow `learner_keys`, columns `course_ids`).
    """

    data: RecData
    as_of: datetime | None = None
    algorithm: str = "als"
    params: Mapping | None = None
    trending_days: int = TRENDING_DAYS
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t0 = time.perf_counter()
        d = self.data
        self.courses = d.courses.with_row_index("c")
        self.course_ids: list[str] = self.courses["course_id"].to_list()
        cidx = {c: i for i, c in enumerate(self.course_ids)}
        pairs = interactions(d.events, self.as_of).filter(
            pl.col("course_id").is_in(self.course_ids)
        )
        self.pairs = pairs
        keys = pl.concat([d.learners.select("learner_key"), pairs.select("learner_key")]).unique(
            maintain_order=True
        )
        self.learner_keys: list[str] = keys["learner_key"].to_list()
        self.lidx = {k: i for i, k in enumerate(self.learner_keys)}
        n, m = len(self.learner_keys), len(self.course_ids)
        rows = np.array([self.lidx[k] for k in pairs["learner_key"]], dtype=np.int64)
        cols = np.array([cidx[c] for c in pairs["course_id"]], dtype=np.int64)
        self.X = _csr(rows, cols, pairs["confidence"], (n, m))  # learner x course confidences
        taken = (pairs["enrolled"] | pairs["completed"]).to_numpy()
        self.taken = _csr(rows[taken], cols[taken], np.ones(taken.sum()), (n, m)).astype(bool)
        passed = pairs["passed"].to_numpy()
        self.passed = _csr(rows[passed], cols[passed], np.ones(passed.sum()), (n, m))

        # Rules: prerequisites (course x prerequisite) and the learner's level.
        pre = d.prerequisites.filter(
            pl.col("course_id").is_in(self.course_ids)
            & pl.col("prerequisite_course_id").is_in(self.course_ids)
        )
        self.R = _csr(
            np.array([cidx[c] for c in pre["course_id"]], dtype=np.int64),
            np.array([cidx[c] for c in pre["prerequisite_course_id"]], dtype=np.int64),
            np.ones(pre.height),
            (m, m),
        )
        self.n_prereqs = np.asarray(self.R.sum(axis=1)).ravel()
        self.difficulty = self.courses["difficulty"].fill_null(0).to_numpy().astype(np.float32)
        self.level = self._levels(rows, cols, pairs)
        self.shown_level, self.level_course = self._shown_levels(cidx)

        self.popularity = self._popularity(cidx)
        self.F = self._content_features(cidx)
        self.P = _l2_rows(self.X.dot(self.F))  # learner profile over course features
        self.G, self.S, self.gap_skills = self._skill_gap(cidx)
        categories = self.courses["category"].fill_null("").to_list()
        codes = {c: i for i, c in enumerate(sorted(set(categories)))}
        self.category = np.array([codes[c] for c in categories], dtype=np.int64)
        self._prerequisite_waivers(categories)
        self.timings["prepare_s"] = time.perf_counter() - t0

        self.refit(self.algorithm, self.params)

    def refit(self, algorithm: str, params: Mapping | None = None) -> None:
        """(Re)train the collaborative factors, e.g. for each point of a tuning grid."""
        t0 = time.perf_counter()
        self.algorithm, self.params = algorithm, params
        self.user_factors, self.item_factors = fit_factors(self.X, algorithm, params)
        self.timings["train_s"] = time.perf_counter() - t0

    # -- features ---------------------------------------------------------------------------------

    def _levels(self, rows: np.ndarray, cols: np.ndarray, pairs: pl.DataFrame) -> np.ndarray:
        """Difficulty level per learner: the hardest passed course, or one below the hardest
        course taken, and at least 1 (beginner)."""
        level = np.ones(len(self.learner_keys), dtype=np.float32)
        diff = self.difficulty[cols]
        passed = pairs["passed"].to_numpy()
        np.maximum.at(level, rows, np.where(passed, diff, diff - 1))
        return level

    def _shown_levels(self, cidx: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Per learner: the level shown so far (0: none yet), and the course that showed it (-1).

        Shown = the hardest course passed or with a quiz average >= QUIZ_MASTERY (quizzes before
        `as_of`); ties go to the most recent.
        """
        evidence = [
            self.pairs.filter(pl.col("passed")).select("learner_key", "course_id", at="last_at")
        ]
        quiz = self.data.quiz_scores
        if quiz is not None and quiz.height:
            if self.as_of is not None:
                quiz = quiz.filter(pl.col("at") < self.as_of)
            evidence.append(
                quiz.group_by("learner_key", "course_id")
                # rounded: a 0.7 average must not depend on the order of a float sum
                .agg(mean=pl.col("score").mean().round(9), at=pl.col("at").max())
                .filter(pl.col("mean") >= QUIZ_MASTERY)
                .select("learner_key", "course_id", "at")
            )
        difficulty = pl.DataFrame(
            {"course_id": self.course_ids, "difficulty": self.difficulty, "c": np.arange(len(cidx))}
        )
        best = (
            pl.concat(evidence, how="vertical_relaxed")
            .join(difficulty.filter(pl.col("difficulty") > 0), on="course_id")
            .filter(pl.col("learner_key").is_in(self.learner_keys))
            .sort("difficulty", "at", "course_id")
            .group_by("learner_key")
            .last()
        )
        level = np.zeros(len(self.learner_keys), dtype=np.float32)
        course = np.full(len(self.learner_keys), -1, dtype=np.int64)
        at = np.array([self.lidx[k] for k in best["learner_key"]], dtype=np.int64)
        level[at] = best["difficulty"].to_numpy()
        course[at] = best["c"].to_numpy()
        return level, course

    def _prerequisite_waivers(self, categories: list[str]) -> None:
        """What lets a learner skip a prerequisite p (see the module docstring), as matrices over
        the prerequisite columns `self.pre_cols`:

        - `self.shows_level`: course x p, 1 where passing the course shows p's level (same
          category, at least as hard; p itself included, so it also covers passing p);
        - `self.H` (learner x skill, has it) and `self.pre_skills` (p x skill) with
          `self.pre_n_skills`: the learner has all of p's skills when H pre_skills^T = n.
        """
        self.pre_cols = np.unique(self.R.indices)
        m, pc = len(self.course_ids), self.pre_cols
        known = np.array([c != "" for c in categories])  # an unknown category shows nothing
        cat = self.category
        same = (
            (cat[:, None] == cat[None, pc])
            & known[None, pc]
            & (self.difficulty[None, pc] > 0)
            & (self.difficulty[:, None] >= self.difficulty[None, pc])
        )
        same[pc, np.arange(len(pc))] = True
        self.shows_level = sp.csr_matrix(same.astype(np.float32), shape=(m, len(pc)))
        cs = (self.S[pc] > 0).astype(np.float32)
        self.pre_skills = cs.tocsr()
        self.pre_n_skills = np.asarray(cs.sum(axis=1)).ravel()
        learned = (self.passed.dot((self.S > 0).astype(np.float32)) > 0).astype(np.float32)
        self.H = ((self.stated_skills + learned) > 0).astype(np.float32).tocsr()

    def _popularity(self, cidx: dict[str, int]) -> np.ndarray:
        """Enrolments in the trailing window (trending), log-scaled to [0, 1]."""
        enrol = self.data.events.filter(pl.col("kind") == "enroll")
        if self.as_of is not None:
            enrol = enrol.filter(pl.col("at") < self.as_of)
        end = enrol["at"].max() if self.as_of is None else self.as_of
        self.popularity_label = "Popular with learners this month"
        recent = (
            enrol.filter(pl.col("at") >= end - timedelta(days=self.trending_days)) if end else enrol
        )
        if recent.is_empty():  # a quiet month: fall back to all time
            recent, self.popularity_label = enrol, "Popular with learners"
        counts = recent.group_by("course_id").len()
        pop = np.zeros(len(self.course_ids), dtype=np.float32)
        for c, n in counts.iter_rows():
            if c in cidx:
                pop[cidx[c]] = math.log1p(n)
        return pop / pop.max() if pop.max() > 0 else pop

    def _content_features(self, cidx: dict[str, int]) -> sp.csr_matrix:
        """Course x feature matrix, rows L2-normalized: IDF-weighted skills, category, level,
        language and title words (for COCO: its knowledge graph's concepts, category, level)."""
        rows, feats = [], []
        for c, skill in self.data.course_skills.iter_rows():
            if c in cidx:
                rows.append(cidx[c])
                feats.append(f"skill:{skill}")
        for r in self.courses.iter_rows(named=True):
            i = r["c"]
            for key in ("category", "difficulty", "language"):
                if r[key] is not None:
                    rows.append(i)
                    feats.append(f"{key}:{r[key]}")
            # Title words only: on COCO's validation split, description words (generated
            # level and audience text) diluted the similarity (NDCG@10 0.0435 vs 0.0478).
            for w in set(_words(r["title"])):
                rows.append(i)
                feats.append(f"word:{w}")
        vocab = {f: j for j, f in enumerate(sorted(set(feats)))}
        cols = np.array([vocab[f] for f in feats], dtype=np.int64)
        m = len(self.course_ids)
        F = _csr(np.array(rows, dtype=np.int64), cols, np.ones(len(cols)), (m, len(vocab)))
        F.data[:] = 1.0
        df = np.asarray((F > 0).sum(axis=0)).ravel()
        idf = np.log((1 + m) / (1 + df)) + 1
        return _l2_rows(F.dot(sp.diags(idf.astype(np.float32))).tocsr())

    def _skill_gap(self, cidx: dict[str, int]) -> tuple[sp.csr_matrix, sp.csr_matrix, dict]:
        """G: learner x skill, 1 where the target role needs a skill the learner lacks.
        S: course x skill, each course's skills sharing 1 (so G S^T = share of skills in the gap).
        """
        d = self.data
        skills = sorted(set(d.course_skills["skill"].to_list()))
        sidx = {s: i for i, s in enumerate(skills)}
        cs = d.course_skills.filter(pl.col("course_id").is_in(self.course_ids))
        S = _csr(
            np.array([cidx[c] for c in cs["course_id"]], dtype=np.int64),
            np.array([sidx[s] for s in cs["skill"]], dtype=np.int64),
            np.ones(cs.height),
            (len(self.course_ids), len(skills)),
        )
        counts = np.asarray(S.sum(axis=1)).ravel()
        S = sp.diags(1 / np.where(counts > 0, counts, 1)).dot(S).tocsr()

        has = d.learners.select(
            "learner_key", skill=pl.col("current_skills").fill_null([])
        ).explode("skill")
        learned = (
            self.pairs.filter(pl.col("passed"))
            .join(d.course_skills, on="course_id")
            .select("learner_key", "skill")
        )
        gap = (
            d.learners.select("learner_key", role="target_role")
            .drop_nulls("role")
            .join(d.role_skills, on="role")
            .filter(pl.col("skill").is_in(skills))
            .join(pl.concat([has, learned]).drop_nulls(), on=["learner_key", "skill"], how="anti")
        )
        G = _csr(
            np.array([self.lidx[k] for k in gap["learner_key"]], dtype=np.int64),
            np.array([sidx[s] for s in gap["skill"]], dtype=np.int64),
            np.ones(gap.height),
            (len(self.learner_keys), len(skills)),
        )
        G.data[:] = 1.0
        has = has.drop_nulls().filter(pl.col("skill").is_in(skills))
        self.stated_skills = _csr(
            np.array([self.lidx[k] for k in has["learner_key"]], dtype=np.int64),
            np.array([sidx[s] for s in has["skill"]], dtype=np.int64),
            np.ones(has.height),
            (len(self.learner_keys), len(skills)),
        )
        return G, S, gap.select("learner_key", "skill", "role")

    # -- scoring ----------------------------------------------------------------------------------

    def eligible(
        self,
        rows: np.ndarray,
        *,
        rules: bool = True,
        prerequisites: bool = True,
        waivers: bool = True,
    ) -> np.ndarray:
        """learners x courses: may this course be recommended to this learner?"""
        ok = ~self.taken[rows].toarray()
        if rules and prerequisites:
            ok &= self.prerequisites_met(rows, waivers=waivers)
        if rules:
            ok &= self.difficulty[None, :] <= self.level[rows, None] + 1
        return ok

    def prerequisites_met(self, rows: np.ndarray, *, waivers: bool = True) -> np.ndarray:
        """learners x courses: has the learner met every prerequisite of the course? Passed it,
        or (`waivers`) has all its skills or passed a course showing its level."""
        if not len(self.pre_cols):
            return np.ones((len(rows), len(self.course_ids)), dtype=bool)
        passed = self.passed[rows]
        if waivers:
            met = passed.dot(self.shows_level).toarray() > 0
            has = self.H[rows].dot(self.pre_skills.T).toarray()
            met |= (has >= self.pre_n_skills[None, :]) & (self.pre_n_skills[None, :] > 0)
        else:
            met = passed[:, self.pre_cols].toarray() > 0
        have = self.R[:, self.pre_cols].dot(met.T.astype(np.float32)).T
        return have >= self.n_prereqs[None, :]

    def signals(self, rows: np.ndarray, ok: np.ndarray) -> dict[str, np.ndarray]:
        """Each signal for learners `rows` x all courses, in [0, 1] (0 where not `ok`)."""
        raw = self.user_factors[rows] @ self.item_factors.T
        lo = np.where(ok, raw, np.inf).min(axis=1, keepdims=True)
        hi = np.where(ok, raw, -np.inf).max(axis=1, keepdims=True)
        span = hi - lo
        collab = np.where(
            np.isfinite(span) & (span > 0), (raw - lo) / np.where(span > 0, span, 1), 0.0
        )
        out = {
            "collaborative": collab,
            "skill_gap": np.asarray(self.G[rows].dot(self.S.T).todense()),
            "content_similarity": np.asarray(self.P[rows].dot(self.F.T).todense()),
            "popularity": np.broadcast_to(self.popularity, ok.shape),
            "level_fit": self.level_fit(rows),
        }
        return {s: np.where(ok, np.clip(v, 0, 1), 0.0).astype(np.float32) for s, v in out.items()}

    def level_fit(self, rows: np.ndarray) -> np.ndarray:
        """1 - |difficulty - shown level| / 2, clipped to [0, 1]; 0 without evidence."""
        shown = self.shown_level[rows, None]
        d = self.difficulty[None, :]
        return np.where((shown > 0) & (d > 0), np.clip(1 - np.abs(d - shown) / 2, 0, 1), 0.0)

    def rank(
        self,
        rows: np.ndarray,
        n: int,
        weights: Mapping[str, float],
        *,
        controls: pl.DataFrame | None = None,
        rules: bool = True,
        diversify: bool = True,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Top-n courses for learners `rows`: (course index or -1, contributions, boost)."""
        ok = self.eligible(rows, rules=rules)
        boost = np.zeros(ok.shape, dtype=np.float32)
        if controls is not None and controls.height:
            ok, boost = self._apply_controls(rows, ok, boost, controls)
        return self.blend(self.signals(rows, ok), ok, weights, n, boost=boost, diversify=diversify)

    def blend(
        self,
        sig: Mapping[str, np.ndarray],
        ok: np.ndarray,
        weights: Mapping[str, float],
        n: int,
        *,
        boost: np.ndarray | None = None,
        diversify: bool = True,
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Weighted sum of signals (+ boost), top n of the eligible, diversified."""
        if boost is None:
            boost = np.zeros(ok.shape, dtype=np.float32)
        contrib = {s: weights.get(s, 0.0) * sig[s] for s in SIGNALS}
        score = np.where(ok, sum(contrib.values()) + boost, -np.inf)
        top = _top_n(score, n * 2 if diversify else n)
        if diversify:
            valid = np.take_along_axis(np.isfinite(score), top, axis=1)
            top = _diversify(top, self.category, DIVERSITY_CAP, valid)[:, :n]
        top = np.where(np.take_along_axis(np.isfinite(score), top, axis=1), top, -1)
        picked = {s: np.take_along_axis(v, top.clip(0), axis=1) for s, v in contrib.items()}
        return top, picked, np.take_along_axis(boost, top.clip(0), axis=1)

    def _apply_controls(
        self, rows: np.ndarray, ok: np.ndarray, boost: np.ndarray, controls: pl.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        cidx = {c: i for i, c in enumerate(self.course_ids)}
        keys = [self.learner_keys[r] for r in rows]
        pos = {k: i for i, k in enumerate(keys)}
        for r in controls.iter_rows(named=True):
            c = cidx.get(r["course_id"])
            if c is None:
                continue
            who = slice(None) if r.get("learner_key") is None else pos.get(r["learner_key"])
            if who is None:
                continue
            if r["action"] == "suppress":
                ok[who, c] = False
            else:
                boost[who, c] += float(r.get("amount") or 0.0)
        return ok, boost


def block_rows(n_courses: int) -> int:
    """Learners per scoring block, so that a block holds about BLOCK_CELLS cells."""
    return max(64, BLOCK_CELLS // max(1, n_courses))


def _top_n(score: np.ndarray, n: int) -> np.ndarray:
    """Column indices of the n best scores per row, best first (ties: lower index first)."""
    n = min(n, score.shape[1])
    part = (
        np.argpartition(-score, n - 1, axis=1)[:, :n]
        if n < score.shape[1]
        else (np.tile(np.arange(score.shape[1]), (score.shape[0], 1)))
    )
    vals = np.take_along_axis(score, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


def _diversify(
    top: np.ndarray, category: np.ndarray, cap: int, valid: np.ndarray | None = None
) -> np.ndarray:
    """Re-rank each row in tiers: a tier takes at most `cap` courses of any category, in score
    order; a course beyond its category's cap moves to the next tier (a per-category cap that
    keeps every course, so the read API can still fill k after suppressions). Entries not
    `valid` (padding: ineligible courses) go last."""
    cats = category[top]
    position = np.broadcast_to(np.arange(top.shape[1]), top.shape)
    if valid is not None:  # padding: each its own group, so it takes no category's places
        cats = np.where(valid, cats, -1 - position)
    # Occurrences of a course's category before it: sort by (category, position), count from
    # the start of each run of equal categories, scatter back.
    by_cat = np.lexsort((position, cats), axis=1)
    sorted_cats = np.take_along_axis(cats, by_cat, axis=1)
    starts = np.ones(top.shape, dtype=bool)
    starts[:, 1:] = sorted_cats[:, 1:] != sorted_cats[:, :-1]
    run_start = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    occurrence = np.empty_like(by_cat)
    np.put_along_axis(occurrence, by_cat, position - run_start, axis=1)
    tier = occurrence // cap
    if valid is not None:
        tier = np.where(valid, tier, top.shape[1] + 1)
    order = np.lexsort((position, tier), axis=1)
    return np.take_along_axis(top, order, axis=1)


# ------------------------------------------------------------------------------------------------
# The nightly job
# ------------------------------------------------------------------------------------------------


def resolve_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """DEFAULT_WEIGHTS with admin overrides; unknown names or negative weights are refused."""
    merged = dict(DEFAULT_WEIGHTS)
    for name, w in (weights or {}).items():
        if name not in SIGNALS:
            raise ValueError(f"Unknown signal {name!r} in weights; known: {', '.join(SIGNALS)}")
        if w is None or not math.isfinite(float(w)) or float(w) < 0:
            raise ValueError(f"Weight of {name!r} must be a number >= 0, got {w!r}")
        merged[name] = float(w)
    return merged


def model_version(algorithm: str, weights: Mapping[str, float]) -> str:
    """e.g. 'hybrid-als-2026.11-1', plus a weights hash when admins changed the defaults."""
    version = f"hybrid-{algorithm}-{WEIGHTS_VERSION}"
    if dict(weights) != DEFAULT_WEIGHTS:
        digest = hashlib.sha256(json.dumps(weights, sort_keys=True).encode()).hexdigest()[:6]
        version += f"+w{digest}"
    return version


def active_controls(controls: Iterable | pl.DataFrame | None, now: datetime) -> pl.DataFrame:
    """Controls in force at `now`: rows of course_id, action ('boost' | 'suppress'), optional
    amount (added to the score), learner_key (one learner; null: everyone) and expires_at."""
    schema = {
        "course_id": pl.String,
        "action": pl.String,
        "amount": pl.Float64,
        "learner_key": pl.String,
        "expires_at": pl.Datetime("us", "UTC"),
    }
    if controls is None:
        return pl.DataFrame(schema=schema)
    if isinstance(controls, pl.DataFrame):
        df = controls
    else:  # mappings, or pathwise.controls.CourseControl dataclasses
        items = [asdict(c) if is_dataclass(c) else dict(c) for c in controls]
        df = pl.DataFrame(items) if items else pl.DataFrame(schema=schema)
    for name, dtype in schema.items():
        if name not in df.columns:
            df = df.with_columns(pl.lit(None, dtype).alias(name))
    expires = df.schema["expires_at"]
    if not isinstance(expires, pl.Datetime):
        df = df.with_columns(pl.col("expires_at").cast(pl.Datetime("us")))
        expires = df.schema["expires_at"]
    df = df.with_columns(
        pl.col("expires_at").dt.replace_time_zone("UTC")
        if expires.time_zone is None  # naive times are UTC, as everywhere in the warehouse
        else pl.col("expires_at").dt.convert_time_zone("UTC")
    ).select(pl.col(n).cast(t) for n, t in schema.items())
    bad = df.filter(~pl.col("action").is_in(["boost", "suppress"]))
    if bad.height:
        raise ValueError(f"Control actions must be 'boost' or 'suppress', got {bad['action'][0]!r}")
    return df.filter(pl.col("expires_at").is_null() | (pl.col("expires_at") > now))


def train_and_recommend(
    con: duckdb.DuckDBPyConnection,
    *,
    weights: dict[str, float] | None = None,
    algorithm: str = "als",
    candidates: int = 50,
    controls: Iterable | pl.DataFrame | None = None,
    params: Mapping | None = None,
    data: RecData | None = None,
) -> dict:
    """Train on the whole warehouse and write `ml.recommendations` and
    `ml.recommendations_cold_start`; returns counts, timings and the model version."""
    from pathwise.results import replace_table

    t_all = time.perf_counter()
    w = resolve_weights(weights)
    version = model_version(algorithm, w)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    data = data or load_data(con)
    load_s = time.perf_counter() - t0
    hybrid = Hybrid(data, algorithm=algorithm, params=params)
    ctl = active_controls(controls, now)

    t0 = time.perf_counter()
    recs = recommend_all(hybrid, candidates, w, controls=ctl)
    recs = recs.with_columns(model_version=pl.lit(version), generated_at=pl.lit(now))
    cold = cold_start(hybrid, candidates, w, controls=ctl).with_columns(
        model_version=pl.lit(version), generated_at=pl.lit(now)
    )
    score_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_recs = replace_table(con, "recommendations", recs)
    n_cold = replace_table(con, "recommendations_cold_start", cold)
    write_s = time.perf_counter() - t0
    return {
        "model_version": version,
        "weights": w,
        "algorithm": algorithm,
        "learners": len(hybrid.learner_keys),
        "learners_with_recommendations": recs["learner_key"].n_unique(),
        "courses": len(hybrid.course_ids),
        "interactions": hybrid.X.nnz,
        "recommendations": n_recs,
        "cold_start": n_cold,
        "controls_applied": ctl.height,
        "timings_s": {
            "load": round(load_s, 2),
            "prepare": round(hybrid.timings["prepare_s"], 2),
            "train": round(hybrid.timings["train_s"], 2),
            "score": round(score_s, 2),
            "write": round(write_s, 2),
            "total": round(time.perf_counter() - t_all, 2),
        },
    }


def recommend_all(
    hybrid: Hybrid, n: int, weights: Mapping[str, float], *, controls: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Ranked rows with contributions, reasons and format for every learner, block by block."""
    frames = []
    block = block_rows(len(hybrid.course_ids))
    for start in range(0, len(hybrid.learner_keys), block):
        rows = np.arange(start, min(start + block, len(hybrid.learner_keys)))
        top, contrib, boost = hybrid.rank(rows, n, weights, controls=controls)
        r, k = np.nonzero(top >= 0)
        frames.append(
            pl.DataFrame(
                {
                    "l": rows[r],
                    "c": top[r, k].astype(np.uint32),
                    "rank": (k + 1).astype(np.int32),
                    **{f"contrib_{s}": contrib[s][r, k].astype(np.float64) for s in SIGNALS},
                    "boost": boost[r, k].astype(np.float64),
                }
            )
        )
    # Padding (-1) only ever ends a row (`blend` puts ineligible courses last), so the ranks
    # of the kept entries are 1..n without holes.
    empty = pl.DataFrame(
        schema={"l": pl.Int64, "c": pl.UInt32, "rank": pl.Int32}
        | {f"contrib_{s}": pl.Float64 for s in SIGNALS}
        | {"boost": pl.Float64}
    )
    return explain(hybrid, pl.concat([empty, *frames]))


def explain(hybrid: Hybrid, long: pl.DataFrame) -> pl.DataFrame:
    """Add score, reason (from the learner's own data), reason_* columns and format_first."""
    contrib_cols = [f"contrib_{s}" for s in SIGNALS]
    keys = pl.DataFrame(
        {"l": np.arange(len(hybrid.learner_keys)), "learner_key": hybrid.learner_keys}
    )
    courses = hybrid.courses.select(
        pl.col("c").cast(pl.UInt32), "course_id", "title", "category", "primary_format"
    )
    long = (
        long.join(
            keys.with_columns(pl.col("l").cast(long.schema["l"])), on="l", maintain_order="left"
        )
        .join(courses, on="c", maintain_order="left")
        .with_columns(score=pl.sum_horizontal(*contrib_cols, "boost"))
    )

    # Anchor course: from the learner's history, same category first, then most engaged with.
    history = (
        hybrid.pairs.filter(pl.col("enrolled") | pl.col("completed"))
        .join(courses.select("course_id", "title", "category"), on="course_id")
        .select(
            "learner_key",
            anchor_id="course_id",
            anchor_title="title",
            anchor_category="category",
            anchor_completed="completed",
            anchor_confidence="confidence",
            anchor_at="last_at",
        )
    )
    # Best history course per learner and category, and per learner overall.
    ranked = history.sort(
        ["anchor_confidence", "anchor_at", "anchor_id"],
        descending=[True, True, False],
        nulls_last=True,
    )
    anchor_cols = ["anchor_id", "anchor_title", "anchor_completed"]
    by_category = ranked.group_by("learner_key", "anchor_category", maintain_order=True).first()
    overall = ranked.group_by("learner_key", maintain_order=True).first()
    anchors = (
        long.select("learner_key", "course_id", "category")
        .join(
            by_category.select("learner_key", "anchor_category", *anchor_cols),
            left_on=["learner_key", "category"],
            right_on=["learner_key", "anchor_category"],
            how="left",
            maintain_order="left",
        )
        .join(
            overall.select("learner_key", *anchor_cols),
            on="learner_key",
            how="left",
            suffix="_any",
            maintain_order="left",
        )
        .select(
            "learner_key",
            "course_id",
            *[pl.coalesce(c, f"{c}_any").alias(c) for c in anchor_cols],
        )
    )
    # Skills of the course that the learner's target role needs and they lack.
    gap_skills = (
        long.select("learner_key", "course_id")
        .join(hybrid.data.course_skills, on="course_id")
        .join(hybrid.gap_skills, on=["learner_key", "skill"])
        .sort("learner_key", "course_id", "skill")
        .group_by("learner_key", "course_id")
        .agg(reason_skills=pl.col("skill").head(2), reason_role=pl.col("role").first())
    )
    # The course that showed each learner's level and its reason text, made once per learner
    # and gathered by row (formatting millions of rows is the slow part of this function).
    li, ci = long["l"].to_numpy(), long["c"].to_numpy().astype(np.int64)
    titles = hybrid.courses["title"].to_list()
    shown = [
        (hybrid.course_ids[c], titles[c]) if c >= 0 else (None, None) for c in hybrid.level_course
    ]
    level_ids = pl.Series([c for c, _ in shown], dtype=pl.String)
    level_parts = pl.Series(
        [f"it matches the level you reached in {t}" if t else None for _, t in shown],
        dtype=pl.String,
    )
    long = (
        long.join(anchors, on=["learner_key", "course_id"], how="left", maintain_order="left")
        .join(gap_skills, on=["learner_key", "course_id"], how="left", maintain_order="left")
        .with_columns(
            level_id=level_ids.gather(li),
            level_part=level_parts.gather(li),
            at_level=pl.Series(
                (hybrid.level_course[li] >= 0) & (hybrid.difficulty[ci] == hybrid.shown_level[li])
            ),
        )
    )
    use_anchor = pl.col("anchor_id").is_not_null() & (
        (pl.col("contrib_collaborative") + pl.col("contrib_content_similarity") > 0)
        | pl.col("reason_skills").is_null()
    )
    use_skills = pl.col("reason_skills").is_not_null() & (pl.col("contrib_skill_gap") > 0)
    # At the learner's shown level, named by the course that showed it: when it is not the
    # anchor already and the reason has room (at most two parts).
    use_level = (
        pl.col("level_id").is_not_null()
        & (pl.col("contrib_level_fit") > 0)
        & pl.col("at_level")
        & ~(use_anchor & (pl.col("anchor_id") == pl.col("level_id"))).fill_null(False)
        & ~(use_anchor & use_skills)
    )
    course_part = pl.format(
        "you {} {}",
        pl.when(pl.col("anchor_completed")).then(pl.lit("completed")).otherwise(pl.lit("took")),
        pl.col("anchor_title"),
    )
    skill_part = pl.format(
        "your target role {} needs {}",
        pl.col("reason_role"),
        pl.col("reason_skills").list.join(" and "),
    )
    parts = pl.concat_list(
        pl.when(use_anchor).then(course_part),
        pl.when(use_skills).then(skill_part),
        pl.when(use_level).then(pl.col("level_part")),
    ).list.drop_nulls()
    learner_formats = hybrid.data.learners.select("learner_key", "style_format", "preferred_format")
    return (
        long.with_columns(
            reason=pl.when(parts.list.len() > 0)
            .then(pl.lit("Recommended because ") + parts.list.join(" and "))
            .otherwise(pl.lit(hybrid.popularity_label)),
            reason_courses=pl.concat_list(
                pl.when(use_anchor).then("anchor_id"), pl.when(use_level).then("level_id")
            ).list.drop_nulls(),
            reason_skills=pl.when(use_skills)
            .then("reason_skills")
            .otherwise(pl.lit([], pl.List(pl.String))),
            reason_role=pl.when(use_skills).then("reason_role"),
        )
        .join(learner_formats, on="learner_key", how="left", maintain_order="left")
        .with_columns(
            format_first=pl.coalesce(
                _known_format("style_format"),
                _known_format("preferred_format"),
                _known_format("primary_format"),
            )
        )
        .select(
            "learner_key",
            "course_id",
            "rank",
            "score",
            *contrib_cols,
            "boost",
            "reason",
            "reason_courses",
            "reason_skills",
            "reason_role",
            "format_first",
        )
    )  # rows stay in learner (block) order, then rank


def _known_format(column: str) -> pl.Expr:
    return pl.when(pl.col(column).is_in(FORMATS)).then(pl.col(column))


def cold_start(
    hybrid: Hybrid, n: int, weights: Mapping[str, float], *, controls: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The list for learners we know nothing about: trending courses a beginner can start
    (no prerequisites, not advanced), diversified, with global controls applied."""
    ok = (hybrid.n_prereqs == 0) & (hybrid.difficulty <= 2)
    boost = np.zeros(len(ok), dtype=np.float32)
    if controls is not None and controls.height:
        glob = controls.filter(pl.col("learner_key").is_null())
        cidx = {c: i for i, c in enumerate(hybrid.course_ids)}
        for r in glob.iter_rows(named=True):
            if (c := cidx.get(r["course_id"])) is not None:
                if r["action"] == "suppress":
                    ok[c] = False
                else:
                    boost[c] += float(r["amount"] or 0.0)
    pop = weights.get("popularity", 0.0) * hybrid.popularity
    score = np.where(ok, pop + boost, -np.inf)[None, :]
    top = _top_n(score, 2 * n)
    top = _diversify(top, hybrid.category, DIVERSITY_CAP, np.isfinite(score[:, top[0]]))[0, :n]
    top = top[np.isfinite(score[0, top])]
    contrib = {f"contrib_{s}": np.zeros(len(top)) for s in SIGNALS}
    contrib["contrib_popularity"] = pop[top].astype(np.float64)
    return (
        pl.DataFrame(
            {
                "c": top.astype(np.uint32),
                "rank": np.arange(1, len(top) + 1, dtype=np.int32),
                **contrib,
                "boost": boost[top].astype(np.float64),
            }
        )
        .join(
            hybrid.courses.select(pl.col("c").cast(pl.UInt32), "course_id", "primary_format"),
            on="c",
        )
        .sort("rank")
        .select(
            "course_id",
            "rank",
            score=pl.sum_horizontal(*contrib, "boost"),
            **{k: pl.col(k) for k in contrib},
            boost="boost",
            reason=pl.lit(hybrid.popularity_label),
            reason_courses=pl.lit([], pl.List(pl.String)),
            reason_skills=pl.lit([], pl.List(pl.String)),
            reason_role=pl.lit(None, pl.String),
            format_first=_known_format("primary_format"),
        )
    )
