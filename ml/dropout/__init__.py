"""Dropout risk per open learner x course enrolment, trusted only where it beats simple baselines.

Rows come from `marts.ml_dropout_checkpoint_features` (dbt): one per enrolment and checkpoint
(10/25/50/75% of the course length after the learner's course clock started), with features from
whole days before the checkpoint only (no leakage) and the label "dropped by `label_until`" (the
later of the course's end and 14 days on), known once the data reaches it. The features include
what OULAD and real platforms show to matter most: work past its due date, the learner's
workload (studied credits, other open enrolments), previous attempts, registration timing,
activity recency, and how the learner's peers in the same course are doing.

The model is the mean of the log-odds of a gradient-boosting model and a logistic regression on
the same features: the boosting adds thresholds and interactions, the regression keeps the
model's extrapolation to an unseen cohort linear. On OULAD the boosting alone did worse than
the regression at 10 and 25% (docs/serving.md has the figures).

Validation is forward, exactly as deployment runs: rows are grouped into cohorts by when their
course clock started (the presentation for OULAD, the enrolment week for self-paced courses);
the model is fitted on the earlier cohorts and validated on the latest (the latest cohorts
holding `HOLDOUT_SHARE` of the rows), then refitted on all of them. A checkpoint is used for
decisions only if, in that validation, the model's ROC-AUC beats both baselines measured on the
same rows - the logistic regression alone and Open edX Aspects' at-risk rule (failing, still
registered, inactive for at least 7 days) - and reaches `PATHWISE_DROPOUT_MIN_AUC`.
`pathwise evaluate dropout` runs the same procedure on the cohorts before the latest and tests
on the latest, so it shows how far the validation predicted the next cohort.

Every figure is reproducible: rows are put in a fixed order before fitting, the boosting has a
fixed random state and no early stopping (no random validation split), and the regression's
solver is deterministic. The same warehouse gives the same figures, run after run.

The package, module by module:

    features.py    checkpoint rows, cohorts, the forward split, FEATURES and labels, the rule
    model.py       the blend (Fitted), its per-checkpoint figures and gate, `fit`, explanations
    evaluation.py  `pathwise evaluate dropout`: test on the latest cohorts, record, render
    nightly.py     `train_and_score`: fit per dataset and write `ml.dropout_risk`
"""

from ml.dropout.evaluation import (
    evaluate,
    evaluate_and_record,
    metric_rows,
    render,
    segment_figures,
)
from ml.dropout.features import (
    CHECKPOINTS,
    FEATURES,
    HOLDOUT_SHARE,
    MIN_LABELS,
    ROW_ORDER,
    RULE_INACTIVE_DAYS,
    RULE_PASS_MARK,
    WHY,
    checkpoint_of,
    dataset_of,
    features_matrix,
    has_labels,
    labelled,
    labels,
    load_features,
    rule_at_risk,
    temporal_split,
    with_groups,
)
from ml.dropout.model import (
    GB_PARAMS,
    METHODS,
    MODEL_NAME,
    RANDOM_STATE,
    RISK_RANGE,
    THREADS,
    DropoutModel,
    Fitted,
    figures,
    fit,
    gate,
)
from ml.dropout.nightly import BANDS, band, train_and_score

__all__ = [
    "BANDS",
    "CHECKPOINTS",
    "FEATURES",
    "GB_PARAMS",
    "HOLDOUT_SHARE",
    "METHODS",
    "MIN_LABELS",
    "MODEL_NAME",
    "RANDOM_STATE",
    "RISK_RANGE",
    "ROW_ORDER",
    "RULE_INACTIVE_DAYS",
    "RULE_PASS_MARK",
    "THREADS",
    "WHY",
    "DropoutModel",
    "Fitted",
    "band",
    "checkpoint_of",
    "dataset_of",
    "evaluate",
    "evaluate_and_record",
    "features_matrix",
    "figures",
    "fit",
    "gate",
    "has_labels",
    "labelled",
    "labels",
    "load_features",
    "metric_rows",
    "render",
    "rule_at_risk",
    "segment_figures",
    "temporal_split",
    "train_and_score",
    "with_groups",
]
