"""The hybrid course recommender: collaborative filtering blended with content signals, under rules.

One nightly run (`train_and_recommend`), module by module:

    data.py     warehouse marts -> RecData (catalog, learners, role skills, interaction events)
    model.py    Hybrid: indexes and matrices as of a time, the collaborative model, the signals
    collaborative.py  EASE, ALS or BPR behind one interface
    signals/    one module per signal: what it measures, its default weight, its reason
    ranking.py  rules, admins' controls, the weighted blend, the diversity cap
    reasons.py  the reason sentence from the signals' parts, the format to show first
    path_step.py  the next step of a learner's stored learning path, first in their list
    tuning.py   per dataset, on a chronological validation split: the collaborative model, its
                parameters, the rules kept, the blend weights (a versioned RecConfig)
    nightly.py  choose the config, train, rank every learner, explain, write the ml tables

Signals, each normalized to [0, 1] per learner and course, then blended with weights tuned per
dataset (admins override them through the controls store, `pathwise.controls`):

- collaborative: EASE or `implicit` ALS on a learner x course CSR matrix of confidences from
  enrolment, progress, completion, rating and recommendation clicks; min-max per learner.
- skill_gap: share of a course's skills that the learner's target role needs (O*NET seeds) and
  the learner does not have yet (stated skills and skills of passed courses).
- content_similarity: cosine between a course and the learner's history, over course features
  (skills, category, level, language, title words: for COCO, its knowledge graph).
- popularity: enrolments in the trailing window (trending), log-scaled; the cold-start list.
- level_fit: how close a course's difficulty is to the level the learner has shown.

Each row keeps `contrib_<signal>` = weight x signal, so `score` = sum of contributions + `boost`
(admin boosts; 0 without controls). Rules: never enrolled or completed courses; prerequisites
met; difficulty at most one level above the learner's and no category taking more than
`DIVERSITY_CAP` places of each tier of the list, where their measured cost is accepted
(`tuning.RULE_COST_ACCEPTED`); suppressed courses removed.

A prerequisite counts as met when the learner passed it, or showed they do not need it (as
platforms that accept prior learning do): they already have every skill it teaches (stated in
their profile or taught by a course they passed), or they passed a course of the same category
at least as hard (their level on that topic is at or above the prerequisite's). Quiz results
alone never waive a prerequisite; they only inform level_fit.
"""

from ml.recommender.collaborative import ALS_PARAMS, BPR_PARAMS, EASE_PARAMS, fit_factors
from ml.recommender.data import DATASETS, FORMATS, RecData, interactions, load_data
from ml.recommender.model import Hybrid
from ml.recommender.nightly import (
    WEIGHTS_VERSION,
    choose_config,
    cold_start,
    model_version,
    recommend_all,
    train_and_recommend,
)
from ml.recommender.ranking import (
    ALL_RULES,
    DIVERSITY_CAP,
    NO_RULES,
    Rules,
    blend,
    block_rows,
    diversified,
    eligible,
    rank,
    signal_scores,
    top_n,
)
from ml.recommender.signals import default_weights, names
from ml.recommender.tuning import RecConfig, tune

__all__ = [
    "ALL_RULES",
    "ALS_PARAMS",
    "BPR_PARAMS",
    "DATASETS",
    "DIVERSITY_CAP",
    "EASE_PARAMS",
    "FORMATS",
    "NO_RULES",
    "WEIGHTS_VERSION",
    "Hybrid",
    "RecConfig",
    "RecData",
    "Rules",
    "blend",
    "block_rows",
    "choose_config",
    "cold_start",
    "default_weights",
    "diversified",
    "eligible",
    "fit_factors",
    "interactions",
    "load_data",
    "model_version",
    "names",
    "rank",
    "recommend_all",
    "signal_scores",
    "top_n",
    "train_and_recommend",
    "tune",
]
