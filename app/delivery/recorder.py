"""The dispatcher's recorder thread: stores finished attempts in batches, one transaction each.

Attempts land on a queue as their sends finish; the thread takes all that have landed
(up to ``BATCH``) and records them together, so under load a transaction carries many
log rows and at rest each is recorded at once. It also gives back the leases of
attempts that never went out. It never dies of an error. A row the database refuses
fails no other: ``outcomes.record`` splits the batch until that row is alone and
stores it in a safe form. A batch that cannot be stored for another reason (the
database is down) is logged, and its chains, still leased, come back through the sweep.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue

from flask import Flask

from app.delivery import outcomes
from app.delivery.attempts import Attempt

log = logging.getLogger(__name__)
BATCH = 1000  # most attempts recorded in one transaction


class Recorder(threading.Thread):
    """Records what ``finished`` receives and what ``returned()`` hands it; calls ``done(n)``."""

    def __init__(
        self,
        app: Flask,
        returned: Callable[[], list[Attempt]],
        done: Callable[[int], None],
        stopping: Callable[[], bool],
    ) -> None:
        super().__init__(name="record", daemon=True)
        self.app, self.returned, self.done, self.stopping = app, returned, done, stopping
        self.finished: SimpleQueue[Attempt] = SimpleQueue()

    def run(self) -> None:
        """Record batches until told to stop and nothing is left."""
        while True:
            batch, returned = self._take(), self.returned()
            if not batch and not returned:
                if self.stopping():
                    return
                continue
            try:
                self._store(batch, returned)
            except Exception:  # the leases bring these attempts back; keep recording others
                log.exception("could not record %s attempts", len(batch) + len(returned))
            self.done(len(batch) + len(returned))

    def _take(self) -> list[Attempt]:
        """Wait up to 0.2 s for a finished attempt, then take all that landed (up to BATCH)."""
        try:
            batch = [self.finished.get(timeout=0.2)]
        except Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self.finished.get_nowait())
            except Empty:
                break
        return batch

    def _store(self, batch: list[Attempt], returned: list[Attempt]) -> None:
        with self.app.app_context():
            if batch:
                outcomes.record(batch)
            if returned:
                outcomes.release(returned)
