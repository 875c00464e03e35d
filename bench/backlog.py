"""Arrived against committed: how far recording lags behind sending in a bench phase.

A delivery counts once its log row is committed, not when the receiver sees it: until
then it lives only in a worker's memory, and a worker that dies sends it again. While
a phase runs, a thread samples every ``interval`` s the receiver's count of arrivals,
then the log rows committed for the phase's subscriptions. Arrivals minus rows is the
backlog: delivered, not yet logged. The count query reads a snapshot taken as it
begins, just after the arrivals were read, so a sample understates the backlog by the
arrivals in that gap at most. Counted the other way round it overstated by the
arrivals during the whole query, hundreds on a loaded machine. The rows are counted
on a plain connection of the bench's own: on SQLite it takes no write lock, so it
delays no writer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, create_engine, text

from bench.harness import ReceiverClient

INTERVAL = 0.1  # s between samples
_COUNT = text(
    "SELECT count(*) FROM async_event_subscriber_log WHERE subscription_id IN :subs"
).bindparams(bindparam("subs", expanding=True))


@dataclass
class Drain:
    """One phase's deliveries: arrivals, committed rows, their times, the worst backlog."""

    arrived: int
    logged: int
    first: float  # first arrival (epoch s)
    last_arrival: float
    last_row: float  # the sample at which the row count last grew (epoch s)
    max_unlogged: int  # arrived but not logged, at the worst sample
    interval: float

    @property
    def rate(self) -> float:
        """Committed deliveries/s: log rows over the span from first arrival to last row."""
        return self.logged / max(self.last_row - self.first, 1e-6)

    @property
    def arrival_rate(self) -> float:
        """Deliveries/s as the receiver saw them, first arrival to last."""
        return self.arrived / max(self.last_arrival - self.first, 1e-6)

    @property
    def lag(self) -> float:
        """Seconds from the last arrival to the last log row (to within ``interval``)."""
        return self.last_row - self.last_arrival

    def summary(self) -> str:
        """One line: both rates, the lag and the worst backlog."""
        return (
            f"{self.arrived} arrived in {self.last_arrival - self.first:.2f} s "
            f"({self.arrival_rate:.0f}/s); {self.logged} logged by "
            f"{self.last_row - self.first:.2f} s ({self.rate:.0f}/s committed); last row "
            f"{self.lag:.2f} s after the last arrival; at most {self.max_unlogged} arrived "
            f"but unlogged (sampled every {self.interval} s)"
        )


class Backlog(threading.Thread):
    """Samples arrivals and committed log rows of one receiver group until ``drain`` ends."""

    def __init__(
        self,
        receiver: ReceiverClient,
        database_url: str,
        group: str,
        subscription_ids: list[int],
        interval: float = INTERVAL,
    ) -> None:
        super().__init__(name=f"backlog-{group}", daemon=True)
        self.receiver, self.group, self.interval = receiver, group, interval
        self.subs = subscription_ids
        self.engine = create_engine(database_url)
        self.offset = self._rows()  # rows of earlier phases
        self.rows = self.arrived = self.max_unlogged = 0
        self.last_row = 0.0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        """Count arrivals, then committed rows; keep the worst difference."""
        arrived = int(self.receiver.count(self.group)["count"])
        rows = self._rows() - self.offset
        now = time.time()
        if rows > self.rows:
            self.last_row = now
        self.rows, self.arrived = rows, arrived
        self.max_unlogged = max(self.max_unlogged, arrived - rows)

    def drain(self, count: int, stall: float = 60.0) -> Drain:
        """Wait until ``count`` rows are committed, or nothing moves for ``stall`` s; stop."""
        seen, since = (-1, -1), time.monotonic()
        while self.rows < count:
            if (self.rows, self.arrived) != seen:
                seen, since = (self.rows, self.arrived), time.monotonic()
            elif time.monotonic() - since > stall:
                print(f"  ! {self.group}: {self.rows}/{count} logged, no progress", flush=True)
                break
            time.sleep(self.interval / 2)
        self.stopped.set()
        self.join()
        self.engine.dispose()
        got = self.receiver.count(self.group)
        arrived = int(got["count"])
        return Drain(
            arrived,
            self.rows,
            got["first"],
            got["last"],
            self.last_row,
            self.max_unlogged,
            self.interval,
        )

    def _rows(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(_COUNT, {"subs": self.subs}).scalar_one())
