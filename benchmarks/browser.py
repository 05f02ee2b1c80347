"""Driving the app in a real browser, shared by tests/test_browser.py and benchmarks/apps.py.

Debian's headless Chromium (`/usr/bin/chromium`) through Playwright, no downloaded browser. The
app runs as a real `pathwise app` process over HTTPS; the browser trusts the local dev CA through
an NSS database in its own HOME (where Chromium looks on Linux), never by ignoring certificate
errors. Nothing here imports Pathwise: callers pass the environment, URLs and certificates.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHROMIUM = Path("/usr/bin/chromium")
CERTUTIL = shutil.which("certutil")  # Debian's libnss3-tools
MISSING = "Chromium or certutil missing: `apt-get install -y chromium libnss3-tools` (.ci/run)"
# Each role's menu, home page first: the menu entry and the heading of the page it opens.
PAGES = {
    "admin": {
        "Performance": "Control Tower",
        "Interventions": "Interventions",
        "Campaigns": "Campaigns",
        "Audit log": "Audit log",
        "Review metadata": "Review metadata",
        "Privacy requests": "Privacy requests",
        "Briefs": "Content briefs",
    },
    "instructor": {
        "My courses": "My courses",
        "Content gaps": "Content gaps & demand",
        "Review metadata": "Review metadata",
        "Briefs": "Content briefs",
    },
    "learner": {
        "My learning": "My learning",
        "My path": "My learning path",
        "Ask a course": "Ask a course",
        "Your data": "How Pathwise uses your data",
    },
}

# A page has rendered when Streamlit has finished running its script (the "running" indicator is
# gone), nothing on it is stale from the page before or still loading (a skeleton stands in for
# an element while the browser fetches its code), its heading reads `heading`, and every chart
# and table shown in the main area has drawn (Vega draws a canvas or an svg, the data grid a
# canvas; those in a closed expander or another tab are not shown).
RENDERED = """heading => {
    const app = document.querySelector('[data-testid=stApp]');
    const main = document.querySelector('[data-testid=stMain]');
    if (!app || !main || app.dataset.testScriptState !== 'notRunning') return false;
    if (document.querySelector('[data-stale=true], [data-testid=stSkeleton]')) return false;
    const h1 = main.querySelector('h1');
    if (!h1 || !h1.innerText.includes(heading) || h1.getBoundingClientRect().height === 0) return false;
    const drawn = el => !el.checkVisibility() || el.querySelector('canvas, svg');
    return [...main.querySelectorAll('[data-testid=stVegaLiteChart], [data-testid=stDataFrame]')]
        .every(drawn);
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    args: list[str],
    env: dict,
    ready_url: str,
    ca: Path,
    timeout: float = 90,
    log: Path | None = None,
) -> subprocess.Popen:
    """Run `python -m cli ARGS` (that is, `pathwise ARGS`) in its own process group, its output
    to `log` if given; wait until `ready_url` answers."""
    with open(log or os.devnull, "wb") as out:  # the child keeps its own copy
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pathwise {' '.join(args)} exited with {proc.returncode}")
        try:
            if httpx.get(ready_url, timeout=1, verify=str(ca)).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise TimeoutError(f"pathwise {' '.join(args)} did not answer {ready_url} in {timeout}s")


def wait_for_line(log: Path, *texts: str, timeout: float = 300) -> str:
    """The first line of `log` that holds one of `texts`, once it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if any(t in line for t in texts):
                return line
        time.sleep(0.2)
    raise TimeoutError(f"none of {texts} in {log} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # the CLI and the server it started
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def trusting(home: Path, ca: Path) -> Path:
    """`home` with an NSS database that trusts `ca` to identify web servers (certutil -t C)."""
    if CERTUTIL is None:
        raise RuntimeError(MISSING)
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    db = f"sql:{nssdb}"
    subprocess.run([CERTUTIL, "-N", "-d", db, "--empty-password"], check=True)
    subprocess.run(
        [CERTUTIL, "-A", "-d", db, "-n", "Pathwise dev CA", "-t", "C,,", "-i", str(ca)], check=True
    )
    return home


def launch(playwright, home: Path):
    """Headless Chromium with `home` as its HOME (where it finds the NSS database it trusts)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        env={**os.environ, "HOME": str(home)},
    )


def settle(pg) -> None:
    """Wait until Streamlit has finished running the script and nothing on the page is stale."""
    pg.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]")
    pg.wait_for_function("() => !document.querySelector('[data-stale=true]')")
    pg.wait_for_timeout(300)  # charts draw after the script run ends


# What the page shows when it does not render in time: the script's state, the main area's
# heading and the charts and tables that have not drawn.
UNRENDERED = """() => ({
    state: document.querySelector('[data-testid=stApp]')?.dataset.testScriptState,
    heading: document.querySelector('[data-testid=stMain] h1')?.innerText,
    undrawn: [...document.querySelectorAll('[data-testid=stMain] [data-testid=stVegaLiteChart], '
        + '[data-testid=stMain] [data-testid=stDataFrame]')]
        .filter(el => el.checkVisibility() && !el.querySelector('canvas, svg'))
        .map(el => el.dataset.testid),
})"""


def rendered(pg, heading: str, timeout_ms: float = 60_000) -> None:
    """Wait, checking every animation frame, until the page headed `heading` has rendered
    (RENDERED)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        pg.wait_for_function(RENDERED, arg=heading, polling="raf", timeout=timeout_ms)
    except PlaywrightTimeout as exc:
        raise TimeoutError(f"{heading!r} did not render: {pg.evaluate(UNRENDERED)}") from exc


def fill_sign_in(pg, url: str, username: str, password: str) -> None:
    """Open `url` (a new session: signed out) and fill in the sign-in form, without submitting."""
    pg.goto(url)
    pg.get_by_role("textbox", name="Username").fill(username)
    pg.get_by_role("textbox", name="Password").fill(password)


def sign_in(pg, url: str, username: str, password: str) -> None:
    fill_sign_in(pg, url, username, password)
    pg.get_by_role("button", name="Sign in").click()
