"""Shared fixtures: an isolated PATHWISE_HOME and one Prefect test server per session.

Prefect reads its settings when it is first imported, so its home and telemetry switch are set
here, when pytest loads this file, before any test module imports Prefect.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="pathwise-test-prefect-"))
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# The temporary server starts in ~10 s on 2 cores; give it room when the machine is busy.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# The fake LLM and embedding servers speak plain http on loopback; outgoing plain http is refused
# unless its host is listed (pathwise/tls.py; tests/test_tls.py checks the refusal itself).
os.environ["PATHWISE_ALLOW_PLAINTEXT_HOSTS"] = "127.0.0.1"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server and database for the whole session (~10 s to start).

    Request it in tests that call flows; flows then run against it, not a real server.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        yield


@pytest.fixture
def pathwise_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings with PATHWISE_HOME in a fresh temporary folder and no at-rest keys (plain files).

    To test encryption, `monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", ...)` and call
    `pathwise.settings.get_settings.cache_clear()` before opening the warehouse.
    """
    from pathwise.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("PATHWISE_HOME", str(home))
    # An empty key (rather than none) also overrides a key in a developer's `.env` file.
    monkeypatch.setenv("PATHWISE_WAREHOUSE_KEY", "")
    monkeypatch.setenv("PATHWISE_VAULT_KEY", "")
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()


# Platforms built once and shared by several test files (tests/_app_platform.py and its kin).
SHARED_PLATFORMS = ("_app_platform", "_growing_platform", "_ml_warehouse", "_privacy_platform")
_IMPORT = re.compile(r"^from (_\w+) import", re.MULTILINE)


@functools.cache
def group_of(path: Path) -> str:
    """The test file's group: the shared platform it imports, else the file itself."""
    shared = [m for m in _IMPORT.findall(path.read_text()) if m in SHARED_PLATFORMS]
    return shared[0] if shared else str(path)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under `make test` (`pytest -n 2 --dist loadgroup`) a file's tests stay on one worker, so a
    module-scoped fixture is built once, and the files sharing a platform stay together, so it is
    not built twice. (xdist's own loadgroup marks no longer group anything under pytest 9.2: it
    renames node ids, which pytest no longer reads; pytest-xdist issue 1386.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedPlatformScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(self.config.rootpath / nodeid.split("::")[0])

    return SharedPlatformScheduling(config, log)
