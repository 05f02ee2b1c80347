"""docs/analysts.md: its one setup command, then each plain dbt command it lists, run as written.

On a small hand-made warehouse (tests/test_dbt_build.py's rows), in a bash shell: the documented
`eval "$(... --print-env)"` from the repository, then every `dbt ...` line from another folder, and
`dbt docs serve` until it answers over HTTP. Only this interpreter stands in for `.venv/bin/python`
(the same file under `make test`) and a free port for the documented one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_dbt_build import write_raw

from pathwise.settings import PROJECT_ROOT
from pathwise.warehouse import connect

DOC = PROJECT_ROOT / "docs" / "analysts.md"
MARKER = "<!-- The command below is run by tests/test_analysts_doc.py"


def documented() -> tuple[str, list[str]]:
    """The setup command (the block after the marker) and the dbt lines of the next block."""
    text = DOC.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text[text.index(MARKER) :], flags=re.S)
    (setup,) = blocks[0].strip().splitlines()
    commands = [line.split("#")[0].strip() for line in blocks[1].strip().splitlines()]
    return setup, commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shell(setup: str, command: str, cwd: Path) -> list[str]:
    setup = setup.replace(".venv/bin/python", sys.executable)
    script = f"cd {PROJECT_ROOT}\n{setup}\ncd {cwd}\n{command}"
    return ["bash", "-c", script]


def test_the_doc_documents_one_setup_command_and_plain_dbt():
    setup, commands = documented()
    assert setup.startswith('eval "$(.venv/bin/pathwise build --print-env)"')
    assert [c.split()[:2] for c in commands] == [
        ["dbt", "build"],
        ["dbt", "build"],
        ["dbt", "test"],
        ["dbt", "docs"],
        ["dbt", "docs"],
    ]


@pytest.mark.slow
def test_plain_dbt_runs_on_the_warehouse_as_documented(pathwise_home, tmp_path):
    setup, commands = documented()
    write_raw()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env["BROWSER"] = "true"  # `dbt docs serve` would open a browser; `true` opens nothing
    target = pathwise_home.home.resolve() / "dbt" / "target"

    *batch, serve = commands
    for command in batch:
        done = subprocess.run(
            shell(setup, command, tmp_path), env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
        if command.split()[1] in {"build", "test"}:
            results = json.loads((target / "run_results.json").read_text())["results"]
            statuses = {r["status"] for r in results}
            assert results and statuses <= {"success", "pass", "warn", "no-op"}  # no-op: exposures
    assert (target / "catalog.json").exists()
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from marts.courses").fetchall() == [(3,)]

    port = free_port()
    server = subprocess.Popen(
        shell(setup, re.sub(r"--port \d+", f"--port {port}", serve), tmp_path),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200
                    assert b"dbt" in page.read()
                break
            except OSError:
                assert server.poll() is None, "dbt docs serve exited"
                assert time.monotonic() < deadline, "dbt docs serve did not answer in 120 s"
                time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
