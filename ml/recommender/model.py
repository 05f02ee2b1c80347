"""The fitted recommender for one point in time: indexes, matrices, factors and its signals.

`Hybrid(data, as_of=t)` sees only events before `t` (everything for the nightly run), so the same
class serves the nightly job and the leak-free evaluation. Matrices are learner x course: rows
follow `learner_keys`, columns `course_ids`. What the rules need (prerequisites, levels, skills)
is built here; what a signal needs is built by the signal itself (`ml/recommender/signals/`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import scipy.sparse as sp

from ml.recommender import collaborative
from ml.recommender.data import RecData, interactions
from ml.recommender.signals import Signal, registered
from ml.recommender.sparse import csr

TRENDING_DAYS = 30


@dataclass
class Hybrid:
    """Indexes, interaction and rule matrices, collaborative factors and signals, as of a time."""

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
        self.cidx = {c: i for i, c in enumerate(self.course_ids)}
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
        cols = np.array([self.cidx[c] for c in pairs["course_id"]], dtype=np.int64)
        self.X = csr(rows, cols, pairs["confidence"], (n, m))  # learner x course confidences
        taken = (pairs["enrolled"] | pairs["completed"]).to_numpy()
        self.taken = csr(rows[taken], cols[taken], np.ones(taken.sum()), (n, m)).astype(bool)
        passed = pairs["passed"].to_numpy()
        self.passed = csr(rows[passed], cols[passed], np.ones(passed.sum()), (n, m))

        # Rules: prerequisites (course x prerequisite) and the learner's level.
        pre = d.prerequisites.filter(
            pl.col("course_id").is_in(self.course_ids)
            & pl.col("prerequisite_course_id").is_in(self.course_ids)
        )
        self.R = csr(
            np.array([self.cidx[c] for c in pre["course_id"]], dtype=np.int64),
            np.array([self.cidx[c] for c in pre["prerequisite_course_id"]], dtype=np.int64),
            np.ones(pre.height),
            (m, m),
        )
        self.n_prereqs = np.asarray(self.R.sum(axis=1)).ravel()
        self.difficulty = self.courses["difficulty"].fill_null(0).to_numpy().astype(np.float32)
        self.level = self._levels(rows, cols, pairs)
        self.popularity, self.popularity_label = self._trending()
        self._skills()
        categories = self.courses["category"].fill_null("").to_list()
        codes = {c: i for i, c in enumerate(sorted(set(categories)))}
        self.category = np.array([codes[c] for c in categories], dtype=np.int64)
        self._prerequisite_waivers(categories)
        self.signals: dict[str, Signal] = {cls.name: cls(self) for cls in registered()}
        self.timings["prepare_s"] = time.perf_counter() - t0

        self.refit(self.algorithm, self.params)

    def refit(self, algorithm: str, params: Mapping | None = None) -> None:
        """(Re)train the collaborative model, e.g. for each point of a tuning grid."""
        t0 = time.perf_counter()
        self.collab = collaborative.fit(self.X, algorithm, params)
        self.algorithm, self.params = algorithm, self.collab.params
        self.timings["train_s"] = time.perf_counter() - t0

    def _levels(self, rows: np.ndarray, cols: np.ndarray, pairs: pl.DataFrame) -> np.ndarray:
        """Difficulty level per learner: the hardest passed course, or one below the hardest
        course taken, and at least 1 (beginner)."""
        level = np.ones(len(self.learner_keys), dtype=np.float32)
        diff = self.difficulty[cols]
        passed = pairs["passed"].to_numpy()
        np.maximum.at(level, rows, np.where(passed, diff, diff - 1))
        return level

    def _trending(self) -> tuple[np.ndarray, str]:
        """Enrolments in the trailing window, log-scaled to [0, 1] (the cold-start list, the
        popularity baseline and signal), and how to say it."""
        enrol = self.data.events.filter(pl.col("kind") == "enroll")
        if self.as_of is not None:
            enrol = enrol.filter(pl.col("at") < self.as_of)
        end = enrol["at"].max() if self.as_of is None else self.as_of
        label = "Popular with learners this month"
        recent = (
            enrol.filter(pl.col("at") >= end - timedelta(days=self.trending_days)) if end else enrol
        )
        if recent.is_empty():  # a quiet month: fall back to all time
            recent, label = enrol, "Popular with learners"
        counts = recent.group_by("course_id").len()
        pop = np.zeros(len(self.course_ids), dtype=np.float32)
        for c, n in counts.iter_rows():
            if c in self.cidx:
                pop[self.cidx[c]] = math.log1p(n)
        return (pop / pop.max() if pop.max() > 0 else pop), label

    def _skills(self) -> None:
        """The skill index, `S` (course x skill, each course's skills sharing 1) and what each
        learner says they have (`stated`, and as a learner x skill matrix)."""
        d = self.data
        self.skills: list[str] = sorted(set(d.course_skills["skill"].to_list()))
        self.sidx = {s: i for i, s in enumerate(self.skills)}
        cs = d.course_skills.filter(pl.col("course_id").is_in(self.course_ids))
        S = csr(
            np.array([self.cidx[c] for c in cs["course_id"]], dtype=np.int64),
            np.array([self.sidx[s] for s in cs["skill"]], dtype=np.int64),
            np.ones(cs.height),
            (len(self.course_ids), len(self.skills)),
        )
        counts = np.asarray(S.sum(axis=1)).ravel()
        self.S = sp.diags(1 / np.where(counts > 0, counts, 1)).dot(S).tocsr()
        self.stated = d.learners.select(
            "learner_key", skill=pl.col("current_skills").fill_null([])
        ).explode("skill")
        has = self.stated.drop_nulls().filter(pl.col("skill").is_in(self.skills))
        self.stated_skills = csr(
            np.array([self.lidx[k] for k in has["learner_key"]], dtype=np.int64),
            np.array([self.sidx[s] for s in has["skill"]], dtype=np.int64),
            np.ones(has.height),
            (len(self.learner_keys), len(self.skills)),
        )

    def _prerequisite_waivers(self, categories: list[str]) -> None:
        """What lets a learner skip a prerequisite p (see `ml/recommender/__init__.py`), as
        matrices over the prerequisite columns `self.pre_cols`:

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
