"""OULAD with a clickstream the size of the full release's, through the whole dropout pipeline.

The full OULAD release has `studentVle.csv` (10.6M rows: clicks per learner, VLE site and day);
the shared copy does not. This writes a synthetic one for the shared copy's registrations (about
7M rows at the default `--sites-per-day`, the release's rows for these 15 of its 22
presentations), then times `import oulad` (against a bare DuckDB load of the same CSV, same
run), ingest, the dbt build of the dropout features and `evaluate dropout`.

The clicks are planted: learners are active on a share of their days, and withdrawn learners'
activity fades over the 40 days before they leave. So the test ROC-AUC it prints says only that
the clicks reach the model through every step, not how well real clicks predict dropout.

    python -m benchmarks.oulad_clickstream [--sites-per-day 4] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from pathwise.settings import get_settings

KEY = ["code_module", "code_presentation"]
FADE_DAYS = 40  # withdrawn learners' activity fades over this many days before they leave


def synthetic_clickstream(src: Path, sites_per_day: float, seed: int = 0) -> pl.DataFrame:
    """studentVle rows for every registration of `src`: active on a learner's share of their
    days from registration (at most 20 days early) to the end or their unregistration."""
    rng = np.random.default_rng(seed)
    read = {"null_values": ["", "?"]}
    info = pl.read_csv(src / "studentInfo.csv", **read).select(*KEY, "id_student", "final_result")
    reg = (
        pl.read_csv(src / "studentRegistration.csv", **read)
        .join(info, on=[*KEY, "id_student"])
        .join(pl.read_csv(src / "courses.csv"), on=KEY)
    )
    first = np.maximum(reg["date_registration"].fill_null(0).to_numpy(), -20)
    end = reg["date_unregistration"].fill_null(reg["module_presentation_length"]).to_numpy()
    end = np.maximum(end, first + 1)
    withdrawn = (reg["final_result"] == "Withdrawn").to_numpy()
    share = rng.beta(2, 4, reg.height) * np.where(withdrawn, 0.6, 1.0)

    days = end - first  # one row per registration and day, then the active ones
    who = np.repeat(np.arange(reg.height), days)
    day = first[who] + np.arange(who.size) - np.repeat(np.cumsum(days) - days, days)
    fade = np.where(withdrawn[who], np.clip((end[who] - day) / FADE_DAYS, 0, 1), 1.0)
    active = rng.random(who.size) < share[who] * fade
    sites = rng.poisson(sites_per_day - 1, active.sum()) + 1
    who, day = np.repeat(who[active], sites), np.repeat(day[active], sites)

    vle = pl.read_csv(src / "vle.csv", **read).group_by(KEY).agg("id_site")
    per_reg = reg.select(KEY).join(vle, on=KEY, how="left", maintain_order="left")["id_site"]
    size = per_reg.list.len().fill_null(0).to_numpy().astype(np.int64)
    if (size == 0).any():
        raise ValueError("every presentation needs VLE sites in vle.csv")
    offset = np.cumsum(size) - size
    flat = per_reg.explode().to_numpy()
    site = flat[offset[who] + (rng.random(who.size) * size[who]).astype(np.int64)]
    return pl.DataFrame(
        {
            "code_module": reg["code_module"].to_numpy()[who],
            "code_presentation": reg["code_presentation"].to_numpy()[who],
            "id_student": reg["id_student"].to_numpy()[who],
            "id_site": site,
            "date": day,
            "sum_click": rng.geometric(0.25, who.size),
        }
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--src", type=Path, help="the OULAD folder (default: PATHWISE_SHARED_DATA/oulad)"
    )
    parser.add_argument("--sites-per-day", type=float, default=5.0)
    parser.add_argument("--work", type=Path, help="keep the files here (default: a temp dir)")
    args = parser.parse_args(argv)

    from benchmarks.ingest import bare_load
    from flows.build import build_flow
    from flows.ingest import ingest_flow
    from ml.dropout import evaluate_and_record
    from pathwise.sources.oulad import import_oulad
    from pathwise.warehouse import connect

    source = args.src or get_settings().shared_data / "oulad"
    with tempfile.TemporaryDirectory(prefix="pathwise-bench-clicks-") as tmp:
        work = args.work or Path(tmp)
        src = work / "oulad"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(source, src)
        clicks = synthetic_clickstream(source, args.sites_per_day)
        clicks.write_csv(src / "studentVle.csv")

        home = work / "home"
        shutil.rmtree(home, ignore_errors=True)
        os.environ["PATHWISE_HOME"] = str(home)
        get_settings.cache_clear()
        seconds = {"bare_load_studentVle": bare_load(src / "studentVle.csv", "csv", work)}
        t0 = time.perf_counter()
        imported = import_oulad(src, home / "landing" / "oulad", "parquet")
        seconds["import"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ingested = ingest_flow([str(home / "landing" / "oulad")])
        seconds["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        built = build_flow(select="+ml_dropout_checkpoint_features")
        seconds["build"] = time.perf_counter() - t0
        assert built["failures"] == [], built["failures"]
        t0 = time.perf_counter()
        with connect() as con:
            evaluated = evaluate_and_record(con, ["oulad"])["oulad"]
        seconds["evaluate"] = time.perf_counter() - t0

    auc = {
        r["k"]: round(r["value"], 3)
        for r in evaluated["rows"]
        if r["method"] == "model" and r["metric"] == "roc_auc"
    }
    result = {
        "studentVle_rows": clicks.height,
        "material_view_events": imported["events"]["material_view"],
        "events_received": ingested["totals"]["received"],
        "events_reconciled": ingested["reconciled"],
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "import_vs_bare_load": round(seconds["import"] / seconds["bare_load_studentVle"], 2),
        "planted_test_roc_auc_by_pct": auc,
        "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
