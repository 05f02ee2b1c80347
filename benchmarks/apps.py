"""Render time of every app page, per role, on the demo data. Target: each page <= 1.5 s.

Each page is run through `streamlit.testing.v1.AppTest` (the real script, real snapshot, real
controls store) as a signed-in user of its role:
- `first`: the first render of the page in a fresh process, with its query caches empty (what
  the first visitor after a nightly publish waits for); a role's home page includes the app's
  imports, other pages are timed from the menu click (the home page ran before them);
- `again`: the median of --repeat further renders (caches warm: what everyone else waits for).
The browser adds its own drawing time on top; tests/test_browser.py shows the pages there.

    make demo && python -m benchmarks.apps --repeat 5
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.5
ENTRY = Path(__file__).resolve().parent.parent / "apps" / "streamlit_app.py"
PAGES = {
    "admin": ["control_tower", "interventions", "audit_log"],
    "instructor": ["creator", "content_gaps"],
    "learner": ["learner", "course_qa"],
}


def _render(role: str, page: str, repeat: int) -> dict:
    """Time one page in this process (called in a fresh subprocess per page)."""
    import logging

    from streamlit.testing.v1 import AppTest

    from pathwise.accounts import UserStore

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    stored = UserStore().get(role)
    if stored is None:
        raise SystemExit(f"no '{role}' account: run `pathwise users demo` (or `make demo`) first")
    times = []
    for _ in range(repeat + 1):
        at = AppTest.from_file(str(ENTRY), default_timeout=120)
        # The stored account as is (its session_version too), so the session stays valid.
        at.session_state["pathwise_user"] = dataclasses.replace(stored, signed_in_at=time.time())
        started = time.perf_counter()
        at.run()  # signed in: the role's home page
        if page != PAGES[role][0]:  # then a click in the menu, as a person does
            started = time.perf_counter()
            at.switch_page(f"app_pages/{page}.py").run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")
    return {"first": times[0], "again": statistics.median(times[1:])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Warm renders per page (median).")
    args = parser.parse_args(argv)

    from pathwise import snapshots

    snap = snapshots.require_current()
    print(
        f"snapshot {snap.version}: {sum(snap.tables.values()):,} rows in {len(snap.tables)} tables"
    )
    print(f"{'role':<11} {'page':<15} {'first (s)':>10} {'again (s)':>10}  target {TARGET_S} s")
    worst = 0.0
    for role, pages in PAGES.items():
        for page in pages:
            # A fresh process per page, so `first` has cold caches.
            cmd = [sys.executable, "-m", "benchmarks.apps", "--one", role, page, str(args.repeat)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            first, again = map(float, out.split()[-2:])
            worst = max(worst, first, again)
            flag = "" if max(first, again) <= TARGET_S else "  over target"
            print(f"{role:<11} {page:<15} {first:>10.2f} {again:>10.2f}{flag}")
    print(f"slowest render {worst:.2f} s: {'meets' if worst <= TARGET_S else 'misses'} the target")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        r = _render(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        print(f"{r['first']:.4f} {r['again']:.4f}")
    else:
        main()
