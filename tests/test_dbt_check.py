"""dbt Labs' best-practice checker finds nothing in our dbt project (`make dbt-check`).

It runs the real `dbt_project_evaluator` from ../shared/dbt-packages on a throw-away copy of the
project (flows/dbt_check.py); rules we disable on purpose are in dbt/dbt_project.yml.
"""

from __future__ import annotations

import pytest

from flows.dbt_check import evaluate, packages_dir


@pytest.mark.slow
def test_dbt_project_evaluator_passes_without_warnings():
    try:
        packages_dir()
    except FileNotFoundError as missing:
        pytest.skip(str(missing))

    result = evaluate()

    findings = [f"{n['name']}: {n['message']}" for n in result["warnings"] + result["failures"]]
    assert findings == [], result["output"][-6000:]
    assert result["returncode"] == 0
    assert result["statuses"]["warn"] == result["statuses"]["error"] == 0
    assert result["statuses"]["pass"] >= 70  # the evaluator's models and rule tests all ran
