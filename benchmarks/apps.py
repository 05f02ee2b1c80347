"""First render of every app page in a real browser after sign-in, per role, on the demo data.
Target: each page <= 1.5 s.

`pathwise app` runs as a real process over HTTPS (a local CA made for the run, trusted by the
browser through its NSS database, as in tests/test_browser.py); Debian's headless Chromium signs
in through the form as each demo account, taking TYPING_S to type as a person would. A page has
rendered when its heading and main area are on screen, every chart and table shown has drawn,
nothing is still loading, and Streamlit's script has finished (no "running" indicator):
`benchmarks.browser.RENDERED`. Per page:
- `first`: the median over --fresh app starts (each after the app says it has warmed its caches,
  apps.warm; the log line with its timings is printed) in a fresh browser profile: the home page
  from the "Sign in" click, the others from their menu click, in menu order;
- `click`: the median of --repeat menu clicks to the page from another one;
- `load`: the median of --repeat fresh loads of the page's address in a new tab (a new session,
  so signed out), timed from the "Sign in" click, as a bookmark is used.

    make demo && python -m benchmarks.apps --repeat 5 --fresh 3 [--role admin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from apps import warm
from benchmarks.browser import (
    PAGES,
    fill_sign_in,
    free_port,
    launch,
    rendered,
    start,
    stop,
    trusting,
    wait_for_line,
)

TARGET_S = 1.5
VIEWPORT = {"width": 1400, "height": 900}  # a laptop screen
TYPING_S = 2.0  # a person takes longer than this to type a username and password


def _timed(action, pg, heading: str) -> float:
    started = time.perf_counter()
    action()
    rendered(pg, heading)
    return time.perf_counter() - started


def _menu(pg, name: str):
    return lambda: pg.locator("[data-testid=stSidebarNav] a").filter(has_text=name).click()


def _typed_sign_in(pg, url: str, role: str, password: str):
    """Open `url`, fill in the sign-in form as a person would (TYPING_S), and return the click
    on "Sign in" to time."""
    fill_sign_in(pg, url, role, password)
    pg.wait_for_timeout(TYPING_S * 1000)
    return lambda: pg.get_by_role("button", name="Sign in").click()


def measure_role(browser, app_url: str, role: str, password: str, repeat: int) -> dict:
    """{page: {"first": s, "click": [s...], "load": [s...]}} for one role on a fresh app: its
    first renders in a fresh browser (nothing cached), then `repeat` warm ones of each kind."""
    pages = PAGES[role]
    times: dict[str, dict] = {name: {"click": [], "load": []} for name in pages}
    context = browser.new_context(viewport=VIEWPORT)
    try:
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        home, *others = pages
        times[home]["first"] = _timed(_typed_sign_in(pg, app_url, role, password), pg, pages[home])
        urls = {home: app_url}
        for name in others:
            times[name]["first"] = _timed(_menu(pg, name), pg, pages[name])
            urls[name] = pg.url
        for _ in range(repeat):
            for name in [*others, home]:  # each click comes from another page
                times[name]["click"].append(_timed(_menu(pg, name), pg, pages[name]))
            for name, heading in pages.items():
                tab = context.new_page()
                tab.set_default_timeout(60_000)
                sign_in = _typed_sign_in(tab, urls[name], role, password)
                times[name]["load"].append(_timed(sign_in, tab, heading))
                tab.close()
    finally:
        context.close()
    return times


def fresh_app(tmp: Path, env: dict, ca: Path, role: str):
    """`pathwise app` started anew, once it has warmed its caches (apps.warm): its URL, process
    and the warm-up's log line."""
    port, log = free_port(), tmp / f"app-{role}.log"
    url = f"https://127.0.0.1:{port}"
    app = start(["app", "--port", str(port)], env, f"{url}/_stcore/health", ca, log=log)
    try:
        line = wait_for_line(log, warm.READY, warm.FAILED)
    except BaseException:
        stop(app)
        raise
    return url, app, line.split(": ", 1)[-1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Warm renders per page (median).")
    parser.add_argument(
        "--fresh", type=int, default=3, help="Fresh app starts per role (median first render)."
    )
    parser.add_argument(
        "--role", action="append", choices=list(PAGES), help="Only these roles' pages (repeatable)."
    )
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from pathwise import snapshots
    from pathwise.devcert import make_dev_cert
    from pathwise.settings import get_settings

    snap = snapshots.require_current()
    print(
        f"snapshot {snap.version}: {sum(snap.tables.values()):,} rows in {len(snap.tables)} tables;"
        f" load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    password = get_settings().demo_password.get_secret_value()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="pathwise-bench-apps-") as tmp, sync_playwright() as p:
        certs = make_dev_cert(Path(tmp) / "tls")
        env = {
            **os.environ,
            "PATHWISE_TLS_CERT": str(certs.cert),
            "PATHWISE_TLS_KEY": str(certs.key),
        }
        browser = launch(p, trusting(Path(tmp) / "browser-home", certs.ca))
        try:
            for role in args.role or PAGES:
                firsts = []
                for i in range(args.fresh):  # warm renders on the last app only
                    url, app, warmed = fresh_app(Path(tmp), env, certs.ca, role)
                    try:
                        print(f"{role:<11} app {i + 1}: {warmed}")
                        last = i == args.fresh - 1
                        got = measure_role(browser, url, role, password, args.repeat if last else 0)
                    finally:
                        stop(app)
                    firsts.append({name: t["first"] for name, t in got.items()})
                for name, t in got.items():
                    t["first"] = statistics.median(f[name] for f in firsts)
                results[role] = got
        finally:
            browser.close()
    report(results, args.repeat, args.fresh)
    print(f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def report(results: dict, repeat: int, fresh: int) -> None:
    print(
        f"{'role':<11} {'page':<14} {'first (s)':>9} {'click (s)':>9} {'load (s)':>9}"
        f"  (medians: first of {fresh} app starts, click/load of {repeat}; target {TARGET_S} s)"
    )
    worst = 0.0
    for role, pages in results.items():
        for name, t in pages.items():
            click, load = statistics.median(t["click"]), statistics.median(t["load"])
            slowest = max(t["first"], click, load)
            worst = max(worst, slowest)
            flag = "" if slowest <= TARGET_S else "  over target"
            print(f"{role:<11} {name:<14} {t['first']:>9.2f} {click:>9.2f} {load:>9.2f}{flag}")
    verdict = "meets" if worst <= TARGET_S else "misses"
    print(f"slowest page {worst:.2f} s: {verdict} the {TARGET_S} s target")


if __name__ == "__main__":
    main()
