"""The RQ worker: runs jobs in the app context without forking, with a finer scheduler.

The worker and its scheduler (``app.delivery.scheduler``) both ride out a Redis outage
or a Sentinel failover (``app.broker.outages``): a step of their loops that Redis fails
is logged and tried again a moment later, where RQ's own loops would end the worker, or
the scheduler's process, on the first connection error.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from typing import Any

from flask import Flask
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job

from app import sinks
from app.broker import sentinel as redis_sentinel
from app.broker.outages import REDIS_PAUSE, ride_out
from app.delivery import sending
from app.delivery.feeder import Feeder
from app.delivery.scheduler import FineScheduler

# s RQ's dequeue blocks on the queues before it beats and blocks again. RQ's own
# (worker_ttl - 15 = 405 s) made it set a 415 s read timeout on the worker's client,
# shared by the feeder and the recorder: a Sentinel primary that hung instead of
# crashing held them all that long, though the replica was promoted in seconds.
DEQUEUE_TIMEOUT = 5
log = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Keep what start-up built out of the garbage collector's full passes.

    A full pass walks every tracked object with the GIL held, so every sender thread,
    the feeder and the recorder stop meanwhile: 65-90 ms for a worker's ~170,000
    objects, once or twice per worker in the bench's 10 s at half rate. Start-up's
    objects (modules, the app, SQLAlchemy's mappings) live as long as the process, so
    frozen (``gc.freeze``) they are never walked again; what is made later is
    collected as before. Garbage already unreachable is collected first, not frozen.
    """
    gc.collect()
    gc.freeze()


class AppWorker(SimpleWorker):
    """A non-forking worker that gives every job a fresh app context.

    Not forking keeps the HTTP connection pool, the sink threads and the dispatcher
    alive between jobs, which is where delivery throughput comes from; the app
    context per job gives each its own database session.
    """

    # RQ doubles its wait after each failed dequeue, up to 60 s: after a long outage
    # the retries would wait that long for a Redis that is back.
    max_connection_wait_time = 2.0

    @property
    def dequeue_timeout(self) -> int:
        """How long one dequeue blocks (DEQUEUE_TIMEOUT): an empty one just beats."""
        return DEQUEUE_TIMEOUT

    @property
    def connection_timeout(self) -> int:
        """The read timeout RQ puts on the worker's client unless it has a longer one:
        the one a Sentinel client has (``app.broker.sentinel.COMMAND_TIMEOUT``)."""
        return int(redis_sentinel.COMMAND_TIMEOUT)

    def __init__(self, queues: Sequence[Queue], app: Flask, **kwargs: Any) -> None:
        super().__init__(queues, **kwargs)
        self.app = app
        self.feeder: Feeder | None = None
        self.stop_requested = False  # SIGTERM or SIGINT: RQ's loop ended on purpose

    def work(self, burst: bool = False, **kwargs: Any) -> bool:
        """RQ's work loop; outside burst mode, a feeder and jobs hand sends to a dispatcher.

        A burst worker (tests, ``--burst``) has neither: it sends and records inside
        each job, so that everything is recorded when it returns. A stopping worker
        stops its feeder, finishes the sends under way and records them before it exits.
        """
        if burst:
            return super().work(burst=True, **kwargs)
        sending.enable(self.app)
        self.feeder = Feeder(self.app)
        try:
            return self._work_through_outages(**kwargs)
        finally:
            self.feeder.stop(timeout=self.app.config["DELIVERY_JOB_TIMEOUT"])
            sending.close(self.app)
            sinks.close(self.app)  # their threads and connections, once nothing sends

    def _work_through_outages(self, **kwargs: Any) -> bool:
        """RQ's loop, run again after any end but a requested stop.

        RQ waits out a Redis outage while it waits for a job, but quits its loop on a
        Redis error anywhere else: in the bookkeeping of a job, say, when Redis dies
        during one (the fault suite kills it so), and the worker process then exited,
        and ``make run``'s honcho stopped every process with it. Here the loop runs
        again once Redis answers; the feeder and the dispatcher live on meanwhile.
        """
        worked = False
        while not self.stop_requested:
            try:
                worked = super().work(burst=False, **kwargs) or worked
            except RedisError as exc:  # RQ's teardown, with Redis still away
                self.log.warning("Worker %s: Redis unreachable (%s)", self.name, exc)
            except StopRequested:
                break
            try:
                if not self.stop_requested:
                    self._wait_for_redis()
            except (StopRequested, RedisError):  # a signal: RQ's handler raises either
                pass
        return worked

    def _wait_for_redis(self) -> None:
        """Wait until Redis answers, then mark this worker's last run dead, so RQ lets the
        next run register under the same name (its teardown may not have reached Redis)."""
        self.log.warning("Worker %s: work loop ended on an error; starting it again", self.name)
        while True:
            time.sleep(REDIS_PAUSE)
            try:
                self.register_death()
                return
            except RedisError:
                continue

    def handle_warm_shutdown_request(self) -> None:
        """RQ's hook on SIGTERM or SIGINT: remember that the loop is to end for good."""
        self.stop_requested = True
        super().handle_warm_shutdown_request()

    def dequeue_job_and_maintain_ttl(self, *args: Any, **kwargs: Any) -> Any:
        """RQ's dequeue; the first call of a long-running worker starts its feeder.

        That is after RQ has forked its scheduler, so no child inherits the thread.
        The start-up heap is frozen then too: see ``freeze_startup_heap``.
        """
        if self.feeder is not None and self.feeder.ident is None:
            freeze_startup_heap()
            self.feeder.start()
        return super().dequeue_job_and_maintain_ttl(*args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run ``job`` inside the app context; RQ's bookkeeping may meet a Redis outage.

        The job's work is leased in the database, so a job whose bookkeeping failed
        is left to the sweep, and the worker goes on.
        """
        with self.app.app_context():
            ride_out(f"job {job.id}", lambda: super(AppWorker, self).execute_job(job, queue))

    # RQ's work loop ends the worker on any error outside its dequeue; these are the
    # steps of that loop that talk to Redis.
    def check_for_suspension(self, burst: bool) -> None:
        """RQ's check for ``rq suspend``, riding out a Redis outage."""
        ride_out("suspension check", lambda: super(AppWorker, self).check_for_suspension(burst))

    def run_maintenance_tasks(self) -> None:
        """RQ's registry cleaning, riding out a Redis outage."""
        ride_out("maintenance", super().run_maintenance_tasks)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, riding out a Redis outage (a pipeline's is sent by its owner)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
        else:
            ride_out("heartbeat", lambda: super(AppWorker, self).heartbeat(timeout))

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's own scheduler start-up, with FineScheduler."""
        self.scheduler = FineScheduler(
            self.queues,
            app=self.app,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()
