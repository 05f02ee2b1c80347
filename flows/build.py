"""Build the warehouse with dbt: seeds, staging, intermediate and marts models, and their tests.

`build_flow` runs `dbt build` on the dbt project in `dbt/` against `PATHWISE_HOME/warehouse.duckdb`
and turns dbt's `run_results.json` into a summary; a failed model or test fails the flow with the
failing nodes and dbt's messages. `docs_flow` runs `dbt docs generate`.

dbt runs in a subprocess, never in this process: in-process dbt can keep DuckDB's file locks
after it returns (dbt-core #11980), which would block the next writer or reader. The profile
(`profiles.yml` at the repository root) has two targets, chosen from the settings:

- `plain`: the warehouse file opened directly;
- `encrypted` (when `PATHWISE_WAREHOUSE_KEY` is set): an in-memory DuckDB that loads the httpfs
  extension from the `duckdb-extension-httpfs` wheel and ATTACHes the file with the key.

The key reaches dbt only through the subprocess environment: never on a command line, never in a
task parameter, never in a log line (output is scrubbed of it as a second line of defence).
dbt's artifacts and logs go under `PATHWISE_HOME/dbt/` so the repository stays clean.
`pathwise build --print-env` prints the same setup (never the key) for running plain
`dbt` commands in a shell (docs/analysts.md).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pathwise.settings import PROJECT_ROOT, get_settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
PROFILES_DIR = PROJECT_ROOT  # profiles.yml

# run_results.json statuses (dbt's RunStatus / TestStatus) that fail the flow, and warnings.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
WARN_STATUSES = frozenset({"warn"})
ERRORS_KEPT = 20  # dbt error lines kept for the message when dbt fails outside of any node
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# The dbt CLI of this interpreter (the console script may not be on PATH, `-m dbt.cli.main` warns).
DBT_COMMAND = (
    sys.executable,
    "-c",
    "import sys; sys.argv[0] = 'dbt'; from dbt.cli.main import cli; sys.exit(cli())",
)


class DbtError(RuntimeError):
    """dbt failed: a model, seed or snapshot errored, a test failed, or dbt itself could not run."""


@dataclass(frozen=True)
class DbtCall:
    """One dbt command (holding no secret) and where its artifacts and logs go."""

    command: str
    args: tuple[str, ...]
    target: str
    target_path: Path
    log_path: Path

    @property
    def run_results_path(self) -> Path:
        return self.target_path / "run_results.json"

    @property
    def log_file(self) -> Path:
        return self.log_path / "dbt.log"


@dataclass(frozen=True)
class DbtProcess:
    """How the dbt subprocess ended."""

    returncode: int
    seconds: float
    errors: tuple[str, ...]  # dbt's top-level error messages (not per node), scrubbed of secrets


def target_for(encrypted: bool) -> str:
    """The profile target for the warehouse: `encrypted` when a key is set, else `plain`."""
    return "encrypted" if encrypted else "plain"


def dbt_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the dbt subprocess, from the settings (the only place the key goes)."""
    from pathwise.warehouse import httpfs_extension_path

    s = get_settings()
    env = dict(os.environ if base is None else base)
    env["PATHWISE_HOME"] = str(s.home.resolve())
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"  # no network call, ~1 s faster
    env["DBT_USE_COLORS"] = "false"
    # A partial build (--select) runs only the tests whose every parent is selected; dbt's
    # default would also run tests on models the selection did not build, and fail.
    env.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    if s.encryption_key:
        env["PATHWISE_WAREHOUSE_KEY"] = s.encryption_key
        env["PATHWISE_HTTPFS_EXTENSION"] = str(httpfs_extension_path())
    else:
        env.pop("PATHWISE_WAREHOUSE_KEY", None)
    return env


def analyst_env() -> dict[str, str]:
    """The environment under which a plain `dbt` command (docs/analysts.md) runs on this warehouse
    as the build flow does: same project, profile, target and artifact folders. Never the key:
    with an encrypted warehouse, `PATHWISE_WAREHOUSE_KEY` must already be in the environment."""
    from pathwise.warehouse import httpfs_extension_path

    s = get_settings()
    home = s.home.resolve()
    target_path, log_path = s.dbt_target_dir.resolve(), s.dbt_log_dir.resolve()
    env = {
        "PATHWISE_HOME": str(home),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(PROFILES_DIR),
        "DBT_TARGET": target_for(s.encrypted),
        "DBT_TARGET_PATH": str(target_path),
        "DBT_LOG_PATH": str(log_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_INDIRECT_SELECTION": "cautious",
    }
    if s.encrypted:
        env["PATHWISE_HTTPFS_EXTENSION"] = str(httpfs_extension_path())
    return env


def print_analyst_env() -> None:
    """Print `export` lines for `eval`: `analyst_env()`, and this interpreter's `dbt` first on PATH."""
    for name, value in analyst_env().items():
        print(f"export {name}={shlex.quote(value)}")
    print(f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"')
    if get_settings().encrypted and not os.environ.get("PATHWISE_WAREHOUSE_KEY"):
        print(
            "The warehouse is encrypted: export PATHWISE_WAREHOUSE_KEY in this shell as well "
            "(it is never printed).",
            file=sys.stderr,
        )


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every non-empty secret replaced by `****`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return text


@task
def plan_dbt(
    command: str,
    target_path: Path,
    log_path: Path,
    encrypted: bool,
    select: str | None = None,
    full_refresh: bool = False,
    threads: int | None = None,
    extra_args: tuple[str, ...] = (),
    dbt_vars: dict[str, Any] | None = None,
) -> DbtCall:
    """The dbt command line for `command` (e.g. `build`, `docs generate`) on this warehouse."""
    target = target_for(encrypted)
    args = [
        *command.split(),
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(PROFILES_DIR),
        "--target", target,
        "--target-path", str(target_path),
        "--log-path", str(log_path),
    ]  # fmt: skip
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if threads:
        args += ["--threads", str(threads)]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    args += extra_args
    return DbtCall(command, tuple(args), target, target_path, log_path)


def read_dbt_line(line: str) -> tuple[str, str, str]:
    """`(level, event name, message)` of one line of dbt's `--log-format json` output.

    Lines that are not dbt events (a Python crash before dbt's logging starts) come back as
    `("error", "", line)`.
    """
    try:
        info = json.loads(line)["info"]
        return info["level"], info["name"], ANSI_ESCAPE.sub("", info["msg"])
    except (ValueError, KeyError, TypeError):
        return "error", "", line


@task(cache_policy=NO_CACHE)
def run_dbt(call: DbtCall) -> DbtProcess:
    """Run dbt in a subprocess; its events go to the debug log, its full log to `dbt.log`."""
    logger = get_run_logger()
    s = get_settings()
    secrets = [s.encryption_key] if s.encryption_key else []
    call.run_results_path.unlink(missing_ok=True)  # never read a previous run's results
    logger.info("dbt %s (target %s)", call.command, call.target)
    errors: list[str] = []
    started = time.perf_counter()
    with subprocess.Popen(
        [*DBT_COMMAND, *call.args, "--log-format", "json", "--log-format-file", "debug"],
        cwd=PROJECT_ROOT,
        env=dbt_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not raw.strip():
                continue
            level, name, message = read_dbt_line(scrub(raw.rstrip(), secrets))
            logger.debug("dbt %s %s: %s", level, name, message)
            # Node failures come from run_results.json; keep what explains a failed start.
            if level == "error" and name in {"", "MainEncounteredError"}:
                errors.append(message)
    seconds = time.perf_counter() - started
    return DbtProcess(proc.returncode, round(seconds, 3), tuple(errors[-ERRORS_KEPT:]))


def node_name(unique_id: str) -> str:
    """The name dbt prints for a node: `test.pathwise.<name>.<hash>`, `model.pathwise.<name>`."""
    parts = unique_id.split(".")
    return parts[2] if parts[0] == "test" and len(parts) > 3 else parts[-1]


@task
def summarize_run_results(path: Path) -> dict[str, Any]:
    """Counts per resource type and status, plus the failing and warning nodes, from dbt's results."""
    data = json.loads(Path(path).read_text())
    counts: dict[str, Counter[str]] = {}
    failures: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for result in data.get("results", []):
        unique_id = result["unique_id"]
        resource_type = unique_id.split(".", 1)[0]
        status = str(result.get("status"))
        counts.setdefault(resource_type, Counter())[status] += 1
        if status in FAILED_STATUSES or status in WARN_STATUSES:
            node = {
                "unique_id": unique_id,
                "name": node_name(unique_id),
                "resource_type": resource_type,
                "status": status,
                "message": result.get("message"),
                "failures": result.get("failures"),
                "relation": result.get("relation_name"),
            }
            (failures if status in FAILED_STATUSES else warnings).append(node)
    return {
        "invocation_id": data.get("metadata", {}).get("invocation_id"),
        "dbt_seconds": round(float(data.get("elapsed_time", 0.0)), 3),
        "counts": {rt: dict(sorted(c.items())) for rt, c in sorted(counts.items())},
        "failures": failures,
        "warnings": warnings,
    }


def describe_failures(command: str, summary: dict[str, Any] | None, process: DbtProcess) -> str:
    """A readable error: which nodes failed and dbt's message for each."""
    lines = [f"dbt {command} failed (exit status {process.returncode})."]
    failures = (summary or {}).get("failures", [])
    if failures:
        lines.append(f"{len(failures)} node(s) failed:")
        for node in failures:
            count = f" [{node['failures']} failing rows]" if node.get("failures") else ""
            lines.append(
                f"  - {node['resource_type']} {node['name']}: {node['status']}{count}: "
                f"{(node.get('message') or '').strip()}"
            )
    else:
        lines.append("dbt stopped outside of any node:")
        lines.extend(process.errors or ("(no error message; see the log)",))
    return "\n".join(lines)


@task
def check_dbt(call: DbtCall, process: DbtProcess, summary: dict[str, Any] | None) -> None:
    """Fail when dbt exited non-zero or any node failed; log warnings."""
    logger = get_run_logger()
    for node in (summary or {}).get("warnings", []):
        logger.warning(
            "dbt warning: %s %s: %s", node["resource_type"], node["name"], node["message"]
        )
    if process.returncode != 0 or (summary or {}).get("failures"):
        message = describe_failures(call.command, summary, process)
        logger.error("%s\nFull log: %s", message, call.log_file)
        raise DbtError(f"{message}\nFull log: {call.log_file}")


def project_vars() -> dict[str, Any]:
    """dbt vars that come from the settings, so the apps and the marts agree: `k_anonymity`
    (the smallest group of learners a published figure describes; dbt_project.yml holds only
    the default for a plain `dbt` run)."""
    return {"k_anonymity": get_settings().k_anonymity}


def _run(
    command: str,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    extra_args: tuple[str, ...] = (),
) -> tuple[DbtCall, DbtProcess, dict[str, Any] | None]:
    """Plan, run and check one dbt command inside the calling flow."""
    s = get_settings()
    call = plan_dbt(
        command,
        target_path=s.dbt_target_dir.resolve(),
        log_path=s.dbt_log_dir.resolve(),
        encrypted=s.encrypted,
        select=select,
        full_refresh=full_refresh,
        threads=s.threads,
        extra_args=extra_args,
        dbt_vars=project_vars(),
    )
    process = run_dbt(call)
    summary = (
        summarize_run_results(call.run_results_path) if call.run_results_path.exists() else None
    )
    check_dbt(call, process, summary)
    return call, process, summary


def one_line(summary: dict[str, Any], process: DbtProcess) -> str:
    """E.g. `passed: 24 model, 3 seed, 215 test, 2 unit_test (2 warnings) in 11.5 s`."""
    parts = [f"{sum(c.values())} {rt}" for rt, c in summary["counts"].items()]
    warned = f" ({len(summary['warnings'])} warnings)" if summary["warnings"] else ""
    return f"passed: {', '.join(parts) or 'nothing selected'}{warned} in {process.seconds:.1f} s"


@flow(name="build")
def build_flow(select: str | None = None, full_refresh: bool = False) -> dict[str, Any]:
    """Run `dbt build` (seeds, models, snapshots, unit and data tests) on the warehouse."""
    logger = get_run_logger()
    call, process, summary = _run("build", select=select, full_refresh=full_refresh)
    if summary is None:
        raise DbtError(f"dbt build wrote no run_results.json; see {call.log_file}")
    if not summary["counts"]:
        logger.warning("dbt build: the selection %r matched nothing", select)
    result = {
        "summary": one_line(summary, process),
        "target": call.target,
        "select": select,
        "full_refresh": full_refresh,
        **summary,
        "process_seconds": process.seconds,
        "run_results": str(call.run_results_path),
        "log_file": str(call.log_file),
    }
    logger.info("dbt build %s", result["summary"])
    return result


@flow(name="build-docs")
def docs_flow() -> dict[str, Any]:
    """Run `dbt docs generate` (with a single-file `static_index.html`) on the built warehouse."""
    logger = get_run_logger()
    call, process, _ = _run("docs generate", extra_args=("--static",))
    catalog = json.loads((call.target_path / "catalog.json").read_text())
    if catalog.get("errors"):
        raise DbtError(f"dbt docs generate: catalog errors: {catalog['errors']}")
    result = {
        "target": call.target,
        "process_seconds": process.seconds,
        "catalog_nodes": len(catalog.get("nodes", {})),
        "catalog_sources": len(catalog.get("sources", {})),
        "index_html": str(call.target_path / "index.html"),
        "static_index_html": str(call.target_path / "static_index.html"),
    }
    logger.info("dbt docs: open %s", result["static_index_html"])
    return result


if __name__ == "__main__":
    build_flow()
