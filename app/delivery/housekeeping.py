"""Housekeeping inside each worker: sweep for lost work, and run the daily log retention."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError

from app.delivery import retention
from app.delivery.sweeper import sweep
from app.search.backend import OUTBOX_BATCH, SearchUnavailable
from app.search.indexing import get_backend

log = logging.getLogger(__name__)
SWEEP_LOCK = "async_events:sweep:lock"
RETENTION_KEY = "async_events:retention:{day}"
RETENTION_HOUR = 1  # 01:00 UTC, as the original's cron


class Housekeeper(threading.Thread):
    """Every DELIVERY_SWEEP_INTERVAL, one worker of the fleet (chosen by a Redis lock) sweeps.

    Once a day after 01:00 UTC one worker also deletes logs past their lifetime,
    if the log_cleanup_enabled setting is on. Every failure is logged and tried
    again later; the thread never dies of one.
    """

    def __init__(self, app: Flask, connection: Redis) -> None:
        super().__init__(name="housekeeper", daemon=True)
        self.app = app
        self.connection = connection
        self.interval = int(app.config["DELIVERY_SWEEP_INTERVAL"])
        self.stopped = threading.Event()

    def run(self) -> None:
        """Work until stopped."""
        while not self.stopped.wait(self.interval):
            try:
                self.sweep()
                self.retain()
                self.flush_search()
            except RedisError as exc:
                log.warning("housekeeping skipped: Redis unreachable (%s)", exc)
            except Exception:
                log.exception("housekeeping failed; trying again in %s s", self.interval)

    def sweep(self) -> None:
        """Re-queue overdue work, if no other worker did in this interval."""
        if not self.connection.set(SWEEP_LOCK, "1", nx=True, ex=max(self.interval - 1, 1)):
            return
        with self.app.app_context():
            result = sweep()
        if result.publications or result.chains:
            log.info(
                "sweep re-queued %s publications, %s chains", result.publications, result.chains
            )

    def retain(self, now: datetime | None = None) -> int | None:
        """Delete expired logs once per day (when enabled); return how many, or None if not run."""
        now = now or datetime.now(UTC)
        if now.hour < RETENTION_HOUR:
            return None
        key = RETENTION_KEY.format(day=now.date().isoformat())
        if not self.connection.set(key, "1", nx=True, ex=2 * 86400):
            return None
        with self.app.app_context():
            deleted = retention.cleanup_logs()
        if deleted:
            log.info("retention deleted %s log rows", deleted)
        return deleted

    def flush_search(self) -> int | None:
        """Send the search outbox to Elasticsearch, if that is the backend; return rows sent.

        One worker of the fleet flushes per interval (a Redis lock), batch after batch
        for at most an interval. While Elasticsearch is down the rows wait, logged, and
        are sent once it is back: the outbox, not this thread, is the record.
        """
        lock = "async_events:search:flush:lock"
        if not self.connection.set(lock, "1", nx=True, ex=max(self.interval - 1, 1)):
            return None
        deadline, sent = time.monotonic() + self.interval, 0
        with self.app.app_context():
            flush = getattr(get_backend(), "flush_outbox", None)
            try:
                while flush is not None and time.monotonic() < deadline:
                    result = flush(OUTBOX_BATCH)
                    sent += result.indexed
                    if result.indexed + result.rejected < OUTBOX_BATCH:
                        break
            except SearchUnavailable as exc:
                log.warning("search outbox waits for Elasticsearch: %s", exc)
        return sent

    def stop(self) -> None:
        """Ask the thread to end after its current round."""
        self.stopped.set()
