"""dbt Labs' best-practice checker, `dbt_project_evaluator`, on our dbt project (a development check).

It is not part of `pathwise build` and not a package of the dbt project: the package hub is out of
reach offline, so the evaluator and `dbt_utils` are local folders in `../shared/dbt-packages` (beside
`$PATHWISE_SHARED_DATA`), which a clone of this repository does not have. The check therefore runs
on a throw-away copy of `dbt/`, laid out as those packages expect (`<tmp>/project/dbt` beside
`<tmp>/shared`), with a `packages.yml` naming them (and a hook that lists each finding):

    dbt deps
    dbt build --select package:dbt_project_evaluator --target lint

The `lint` target of `profiles.yml` is an in-memory DuckDB: the evaluator reads dbt's graph, not the
warehouse, so no warehouse is needed and none is touched. Its settings (rules we disable on purpose,
each with its reason) are in `dbt/dbt_project.yml`. With the packages installed every config path
there is used, so an unused one is a typo and fails the check.

    python -m flows.dbt_check        # or `make dbt-check`; exit status 1 on any warning or error

A plain subprocess, like `flows.build` (dbt in-process can keep file locks); no Prefect flow, since
this is a developer's check rather than a step of the nightly run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from flows.build import DBT_COMMAND, DBT_PROJECT_DIR, PROFILES_DIR, summarize_run_results
from pathwise.settings import PROJECT_ROOT, get_settings

PACKAGES = ("dbt_utils", "dbt_project_evaluator")
PACKAGES_YML = """\
# Written by flows/dbt_check.py into a throw-away copy of the project; never part of dbt/.
packages:
  - local: ../../shared/dbt-packages/dbt_utils
  - local: ../../shared/dbt-packages/dbt_project_evaluator
"""
# run_results.json statuses as dbt's closing line (PASS=.. WARN=.. ERROR=..) counts them.
AS_DBT_COUNTS = {"success": "pass", "fail": "error", "runtime error": "error", "skipped": "skip"}
# Appended to the copy's dbt_project.yml: list each finding (which model, which rule) at the end.
PRINT_ISSUES = """
on-run-end:
  - "{{ dbt_project_evaluator.print_dbt_project_evaluator_issues() }}"
"""


def packages_dir() -> Path:
    """`dbt-packages/` beside the shared data folder, holding both local packages."""
    path = get_settings().shared_data.resolve().parent / "dbt-packages"
    missing = [p for p in PACKAGES if not (path / p / "dbt_project.yml").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{path} lacks the local dbt packages {', '.join(missing)}: set PATHWISE_SHARED_DATA "
            "to the shared data folder that has dbt-packages/ beside it (../shared/data)."
        )
    return path


def stage_project(workdir: Path, packages: Path) -> Path:
    """Copy the dbt project into `workdir` as the local packages expect it; return its dbt folder.

    The evaluator's own `packages.yml` finds `dbt_utils` at `../../shared/dbt-packages`, resolved
    from the root project: so the copy is `<workdir>/project/dbt` and `<workdir>/shared` links there.
    """
    project = workdir / "project"
    dbt_dir = project / "dbt"
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages", "package-lock.yml")
    shutil.copytree(DBT_PROJECT_DIR, dbt_dir, ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "seeds", project / "seeds")  # dbt_project.yml: ../seeds
    shutil.copy(PROFILES_DIR / "profiles.yml", project / "profiles.yml")
    (workdir / "shared").mkdir()
    (workdir / "shared" / "dbt-packages").symlink_to(packages, target_is_directory=True)
    (dbt_dir / "packages.yml").write_text(PACKAGES_YML)
    with (dbt_dir / "dbt_project.yml").open("a") as project_yml:
        project_yml.write(PRINT_ISSUES)
    return dbt_dir


def _dbt(dbt_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DBT_")},
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    return subprocess.run(
        [*DBT_COMMAND, *args, "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir.parent)],
        cwd=dbt_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def evaluate() -> dict[str, Any]:
    """Run the evaluator on a staged copy of the project.

    Returns the counts per status as dbt's closing line gives them (`pass`, `warn`, `error`,
    `skip`), the warning and failing checks with dbt's messages, and dbt's output (which lists
    each finding: which model breaks which rule).
    """
    packages = packages_dir()
    with tempfile.TemporaryDirectory(prefix="pathwise-dbt-check-") as tmp:
        dbt_dir = stage_project(Path(tmp), packages)
        deps = _dbt(dbt_dir, "deps")
        if deps.returncode != 0:
            raise RuntimeError(
                f"dbt deps failed on the staged project:\n{deps.stdout}{deps.stderr}"
            )
        build = _dbt(
            dbt_dir,
            "build",
            "--select", "package:dbt_project_evaluator",
            "--target", "lint",
            # Every config path is used once the packages are installed: an unused one is a typo.
            "--warn-error-options", '{"error": ["UnusedResourceConfigPath"]}',
        )  # fmt: skip
        results = dbt_dir / "target" / "run_results.json"
        if not results.exists():
            raise RuntimeError(f"dbt did not run the evaluator:\n{build.stdout}{build.stderr}")
        summary = summarize_run_results.fn(results)
    statuses = dict.fromkeys(("pass", "warn", "error", "skip"), 0)
    for counts in summary["counts"].values():
        for status, n in counts.items():
            statuses[AS_DBT_COUNTS.get(status, status)] += n
    return {
        "returncode": build.returncode,
        "statuses": statuses,
        "warnings": summary["warnings"],
        "failures": summary["failures"],
        "output": build.stdout + build.stderr,
    }


def main() -> int:
    result = evaluate()
    print(result["output"])
    statuses = " ".join(f"{s.upper()}={n}" for s, n in result["statuses"].items())
    findings = result["warnings"] + result["failures"]
    print(f"dbt_project_evaluator: {statuses}")
    for node in findings:
        print(f"  - {node['name']}: {node['status']}: {(node.get('message') or '').strip()}")
    return 1 if findings or result["returncode"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
