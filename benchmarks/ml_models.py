"""Training and scoring time of the dropout model and the learning-style detector at 100k learners.

The model inputs (`marts.ml_dropout_checkpoint_features`, `marts.ml_learner_style_signals`) of a
simulated platform are resampled by learner, with replacement, to `--learners` distinct learners
(each copy keeps its rows and their cohorts), then the nightly work is timed on them: fitting
(forward validation on the latest cohorts, then the refit on all of them), scoring the open enrolments, the
'why' explanations, and style detection. Median of `--repeat` runs, single process.

    python -m benchmarks.ml_models [--learners 100000] [--repeat 3] [--home PATHWISE_HOME]

Without --home, a 3,000-learner platform is simulated, ingested and built in a temporary folder
first (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from pathwise.settings import get_settings


def source_home(work: Path) -> Path:
    """A small simulated warehouse built up to the ML marts."""
    from flows.build import build_flow
    from flows.ingest import ingest_flow
    from pathwise.sources.simulator import simulate

    home = work / "home"
    os.environ["PATHWISE_HOME"] = str(home)
    get_settings.cache_clear()
    simulate(learners=3000, courses=60, days=60, seed=7, out=work / "land", fmt="parquet",
             start="2026-01-05", bad_share=0.0)  # fmt: skip
    ingest_flow(paths=[str(work / "land")])
    build_flow(select="+ml_dropout_checkpoint_features +ml_learner_style_signals")
    return home


def resample(df: pl.DataFrame, learners: int, seed: int = 0) -> pl.DataFrame:
    """`learners` distinct learners drawn with replacement from `df`'s, each with all its rows."""
    keys = df["learner_key"].unique().sort()
    draw = np.random.default_rng(seed).integers(0, len(keys), learners)
    pick = pl.DataFrame({"learner_key": keys.gather(draw), "copy": np.arange(learners)})
    return (
        df.join(pick, on="learner_key")
        .with_columns(learner_key=pl.format("{}#{}", "learner_key", "copy"))
        .drop("copy")
    )


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, help="PATHWISE_HOME of a built warehouse to resample")
    args = parser.parse_args(argv)

    from ml import dropout, styles
    from pathwise.warehouse import connect

    with tempfile.TemporaryDirectory(prefix="pathwise-bench-ml-") as tmp:
        if args.home:
            os.environ["PATHWISE_HOME"] = str(args.home)
            get_settings.cache_clear()
        else:
            source_home(Path(tmp))
        with connect(read_only=True) as con:
            features = dropout.load_features(con)
            signals = styles.load_signals(con)

    features = resample(features.filter(pl.col("dataset") == "platform"), args.learners)
    signals = resample(signals, args.learners)
    train = dropout.labelled(features)
    current = features.filter(pl.col("checkpoint") == "current")

    fit_s, model = timed(lambda: dropout.fit(train), args.repeat)
    score_s, _ = timed(lambda: model.predict(current), args.repeat)
    explain_s, _ = timed(lambda: model.explain(current), args.repeat)
    styles_s, detected = timed(lambda: styles.detect(signals), args.repeat)
    result = {
        "learners": args.learners,
        "dropout_training_rows": train.height,
        "dropout_open_enrolments_scored": current.height,
        "dropout_fit_s": round(fit_s, 2),
        "dropout_score_s": round(score_s, 2),
        "dropout_explain_s": round(explain_s, 2),
        "dropout_validation_auc": {
            c: round(f["model"]["roc_auc"], 3) for c, f in model.validation.items()
        },
        "styles_learners": signals.height,
        "styles_named": int((detected["style"] != "unknown").sum()),
        "styles_detect_s": round(styles_s, 2),
        "repeat": args.repeat,
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
