"""Every command answers --help, and `status` reports a warehouse it can read."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
COMMANDS = [[], ["simulate"], ["import"], ["import", "oulad"], ["import", "coco"], ["ingest"],
            ["build"], ["seeds"], ["status"], ["demo"], ["nightly"], ["publish"], ["serve"],
            ["app"], ["dev-cert"], ["index"], ["ask"], ["evaluate"], ["evaluate", "recs"],
            ["evaluate", "dropout"], ["evaluate", "styles"], ["evaluate", "rag"], ["users"],
            ["users", "add"], ["users", "list"], ["users", "remove"], ["users", "demo"],
            ["users", "audit"], ["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"],
            ["keys", "rotate"], ["evaluate", "paths"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pathwise")
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_status_without_and_with_a_warehouse(pathwise_home, tmp_path):
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "no warehouse yet" in result.output
    from pathwise.ingestion import ingest_file
    from pathwise.sources.simulator import simulate

    simulate(learners=50, courses=6, days=1, seed=1, out=tmp_path / "sim", fmt="parquet",
             start="2026-01-05", bad_share=0.0)  # fmt: skip
    for f in sorted((tmp_path / "sim" / "events").iterdir()):
        ingest_file(f)
    from pathwise.warehouse import connect

    with connect() as con:  # dbt's intermediate models have names this long
        con.execute("create table raw.a_table_whose_name_is_longer_than_forty_characters (x int)")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "raw.events" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert len({len(line) for line in lines}) == 1, "row counts are not aligned"


def test_build_before_any_ingest_says_what_to_do(pathwise_home):
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 1
    assert "Nothing ingested yet" in result.output and "pathwise ingest" in result.output
    assert not pathwise_home.warehouse_path.exists()


def test_seeds_are_rebuilt_exactly_from_the_shared_data(tmp_path):
    """`pathwise seeds` regenerates the committed reference seeds byte for byte."""
    from pathwise.settings import PROJECT_ROOT, get_settings

    if not (get_settings().shared_data / "skills").is_dir():
        pytest.skip("the shared data is not next to this clone: see ../shared/data/MANIFEST.md")
    result = runner.invoke(app, ["seeds", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in tmp_path.iterdir())
    assert {"onet_occupations.csv", "skills.csv", "role_skills.csv", "README.md"} <= set(written)
    for name in written:
        assert (tmp_path / name).read_bytes() == (PROJECT_ROOT / "seeds" / name).read_bytes(), name


def test_the_command_keeps_prefect_offline_and_patient_unless_told_otherwise():
    """`pathwise` (the demo, the nightly flow) starts Prefect's temporary server: without these
    defaults it sends a telemetry heartbeat to Prefect's servers and gives up after 30 s."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_")}
    shown = (
        "import os, cli; print(os.environ['PREFECT_SERVER_ANALYTICS_ENABLED'], "
        "os.environ['PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS'])"
    )
    out = subprocess.run([sys.executable, "-c", shown], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["false", "300"], out.stderr
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "45"
    out = subprocess.run([sys.executable, "-c", shown], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["false", "45"], out.stderr
