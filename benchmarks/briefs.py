"""Time to write a content brief, on the published snapshot (run `make demo` first).

For each of the `--gaps` widest content gaps: the first brief in a fresh process (it reads O*NET,
ESCO and the job postings once, about a second), then `--repeat` more, and the Markdown and PDF
exports; median and worst. Target: a brief in <= 2 s. Also runs the forecast's back-test on the
Coursera ratings (`pathwise brief backtest`) unless `--no-backtest`.

    python -m benchmarks.briefs [--gaps 5] [--repeat 3] [--no-backtest]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gaps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-backtest", action="store_true")
    args = parser.parse_args(argv)

    from agents import briefs
    from agents.briefs import backtest
    from pathwise import snapshots

    snap = snapshots.require_current()
    con = snap.connect()
    try:
        skills = [g["skill_key"] for g in briefs.gaps(con, args.gaps)]
        start = time.perf_counter()
        briefs.generate(con, skills[0], snap.version)
        first = time.perf_counter() - start
        times, exports = [], []
        for skill in skills:
            for _ in range(args.repeat):
                start = time.perf_counter()
                brief = briefs.generate(con, skill, snap.version)
                times.append(time.perf_counter() - start)
                start = time.perf_counter()
                briefs.markdown(brief)
                briefs.pdf(brief)
                exports.append(time.perf_counter() - start)
    finally:
        con.close()
    result = {
        "snapshot": snap.version,
        "gaps": len(skills),
        "first_brief_s": round(first, 3),
        "brief_median_s": round(statistics.median(times), 3),
        "brief_max_s": round(max(times), 3),
        "export_md_pdf_median_s": round(statistics.median(exports), 3),
        "target_s": 2.0,
    }
    if not args.no_backtest:
        start = time.perf_counter()
        result["backtest"] = backtest.run()
        result["backtest_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
