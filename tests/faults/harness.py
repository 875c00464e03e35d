"""The fault suite's harness: one scenario against real workers, receivers and servers.

A scenario subscribes endpoints, publishes events, injects a fault at a chosen moment,
waits until every chain is final (or a deadline passes), and accounts for every
delivery from the database and the receivers (``tests.faults.accounting``)::

    faults.run(
        "SIGKILL during a send",
        endpoints=[Endpoint("/a", held=True)],
        publish=8,
        fault=at(arrived(1), kill_workers, release(), start_worker),
    )

It prints the scenario's line, appends it to the results file, and fails if a
delivery was lost or a chain's trace is not whole. Moments and actions live in
``tests.faults.actions``; more scenarios are a few lines each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.faults import report
from tests.faults.accounting import Result, account
from tests.faults.run import SCALE, Run
from tests.receiver import Reply

SETTLE = 1.0  # s without a new request before the receivers' counts are read


@dataclass(frozen=True)
class Setup:
    """What a scenario runs on: a database, and the Redis binary of its own servers."""

    name: str  # as printed: "sqlite-redis6.2"
    database: str  # "sqlite" or "postgresql"
    redis_binary: str


class Endpoint:
    """A receiver route to subscribe: its replies by attempt of each chain, and a hold.

    ``Endpoint("/flaky", Reply(503), Reply(200))`` fails every chain's first attempt;
    ``Endpoint("/a", held=True)`` keeps requests unanswered until ``release()``;
    ``Endpoint("/trickle", url=server.url)`` subscribes a server of the test's own (a
    hostile one, say), whose arrivals the accounting cannot count.
    """

    def __init__(
        self, path: str, *replies: Reply, held: bool = False, url: str | None = None
    ) -> None:
        self.path, self.replies, self.held, self.url = path, replies or (Reply(),), held, url


Fault = Callable[[Run], None]


@dataclass
class Faults:
    """Runs scenarios on one setup (the ``faults`` fixture)."""

    setup: Setup
    tmp_path: Path
    report_path: Path

    def run(
        self,
        scenario: str,
        endpoints: list[Endpoint],
        publish: int | list[dict[str, Any]],
        fault: Fault,
        settings: dict[str, Any] | None = None,
        deadline: float = 60.0,
    ) -> Result:
        """Run one scenario; return its line, after asserting nothing was lost.

        ``publish`` is a number of events (scaled by FAULTS_SCALE, published in one
        batch), or their arguments (published one by one; refusals are counted).
        ``settings`` are runtime settings (default: max_deaths 1, so dead letters come
        fast). The ``deadline`` (s, plus 10 s per unit of scale) starts when the fault
        is over.
        """
        needs = set(getattr(fault, "needs", ()))
        run = Run(self.setup, self.tmp_path / f"run-{time.monotonic_ns()}", needs)
        try:
            run.prepare(endpoints, {"max_deaths": 1} | (settings or {}))
            run.start_worker(ready=True)
            run.publish(publish * SCALE if isinstance(publish, int) else publish)
            fault(run)
            result = self._account(run, scenario, deadline + 10 * SCALE)
            failed = result.lost or result.recovery_s is None
            logs = run.worker_logs() if failed else ""
        except BaseException:
            print(run.worker_logs())
            raise
        finally:
            run.close()
        print(result.line())
        report.append(self.report_path, result)
        assert not failed, "\n".join([result.line(), *result.problems[:20], logs])
        return result

    def _account(self, run: Run, scenario: str, deadline: float) -> Result:
        """Wait for every chain to be final (the fault is over now), then account."""
        over = time.monotonic()
        final = run.wait_final(over + deadline)
        run.wait_quiet(SETTLE)
        result = Result(self.setup.name, scenario, SCALE, run.events, len(run.expected))
        result.recovery_s = None if final is None else round(final - over, 1)
        result.redis_version, result.refused = run.redis_version(), run.refused
        arrivals = run.receiver.arrivals()
        return account(run.reader, run.expected, arrivals, result, run.elsewhere)
