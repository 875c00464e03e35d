"""Names the RQ queues and puts jobs on them; a Redis outage is reported, never raised."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from redis.exceptions import RedisError
from rq import Queue

from app.broker import get_redis

TRIGGER_QUEUE = "event.trigger"
RETRY_QUEUE = "event.retry"
QUEUES = (TRIGGER_QUEUE, RETRY_QUEUE)

# Jobs are named by dotted path: services must not import the jobs package.
TRIGGER_JOB = "jobs.delivery.trigger_publication"
ATTEMPT_JOB = "jobs.delivery.attempt_delivery"

log = logging.getLogger(__name__)


def get_queue(name: str) -> Queue:
    """The named queue on the app's Redis."""
    return Queue(name, connection=get_redis())


def enqueue_trigger(publication_id: int, timeout: int = 300) -> bool:
    """Queue the fan-out of a publication; False if Redis is unreachable (the sweep retries)."""
    try:
        get_queue(TRIGGER_QUEUE).enqueue(
            TRIGGER_JOB, publication_id, job_timeout=timeout, result_ttl=0, failure_ttl=86400
        )
    except RedisError as exc:
        log.warning(
            "publication %s waits in the database: Redis unreachable (%s)", publication_id, exc
        )
        return False
    return True


def whole_second_after(due: datetime) -> datetime:
    """``due`` (naive UTC or aware) rounded up to a whole second, as an aware UTC datetime.

    RQ's scheduler scores jobs in whole seconds, truncating: a job due at 10.7 s
    would run at 10.0 s, early. Rounding up means a retry is never early.
    """
    aware = due if due.tzinfo else due.replace(tzinfo=UTC)
    return datetime.fromtimestamp(math.ceil(aware.timestamp()), UTC)


def enqueue_attempt(
    delivery_id: int, attempts: int, due: datetime | None = None, timeout: int = 300
) -> bool:
    """Queue the next attempt of a chain, at ``due`` or now; False if Redis is unreachable."""
    queue = get_queue(RETRY_QUEUE)
    options = {"job_timeout": timeout, "result_ttl": 0, "failure_ttl": 86400}
    try:
        if due is not None and due.replace(tzinfo=None) > datetime.now(UTC).replace(tzinfo=None):
            when = whole_second_after(due)
            queue.enqueue_at(when, ATTEMPT_JOB, delivery_id, attempts, **options)
        else:
            queue.enqueue(ATTEMPT_JOB, delivery_id, attempts, **options)
    except RedisError as exc:
        log.warning("delivery %s waits in the database: Redis unreachable (%s)", delivery_id, exc)
        return False
    return True


def enqueue_job(job: str, *args: object, timeout: int = 300) -> bool:
    """Queue any other job (by dotted path) on the retry queue; False if Redis is unreachable."""
    try:
        queue = get_queue(RETRY_QUEUE)
        queue.enqueue(job, *args, job_timeout=timeout, result_ttl=0, failure_ttl=86400)
    except RedisError as exc:
        log.warning("job %s not queued: Redis unreachable (%s)", job, exc)
        return False
    return True
