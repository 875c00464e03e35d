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
DISPATCH_JOB = "jobs.delivery.dispatch_publications"
ATTEMPT_JOB = "jobs.delivery.attempt_delivery"

# Published ids wait in this list; one dispatch job at a time is queued to drain it
# (WAKE_FLAG says one is queued), so a burst of publishes costs one Redis round trip each.
PENDING_LIST = "async_events:publications"
WAKE_FLAG = "async_events:publications:wake"
WAKE_TTL = 10  # s: a wake-up lost with its job is re-sent this much later at the latest

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


def enqueue_publications(publication_ids: list[int], timeout: int = 300) -> bool:
    """Hand committed publications to the dispatch job; False if Redis is unreachable.

    One pipelined round trip appends the ids and sets the wake flag; only the publish
    that sets the flag queues a dispatch job. The list is only a wake-up: the
    publication row stays pending until fanned out, and the sweep finds it if Redis
    loses the id.
    """
    if not publication_ids:
        return True
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.rpush(PENDING_LIST, *publication_ids)
        pipe.set(WAKE_FLAG, 1, nx=True, ex=WAKE_TTL)
        if pipe.execute()[1]:
            return _queue_dispatch(timeout)
    except RedisError as exc:
        log.warning(
            "publications %s wait in the database: Redis unreachable (%s)", publication_ids, exc
        )
        return False
    return True


def _queue_dispatch(timeout: int) -> bool:
    """Queue a dispatch job; drop the wake flag again if that fails, so the next publish can."""
    try:
        get_queue(TRIGGER_QUEUE).enqueue(
            DISPATCH_JOB, job_timeout=timeout, result_ttl=0, failure_ttl=86400
        )
    except RedisError:
        get_redis().delete(WAKE_FLAG)
        raise
    return True


def take_publications(limit: int, timeout: int = 300) -> list[int]:
    """Pop up to ``limit`` published ids for this dispatch job; wake another if more wait.

    The wake flag is dropped before the pop, so an id pushed after the pop always
    finds the flag clear and queues a job of its own. When ids are left over, a
    second job is queued at once, so another worker fans them out in parallel.
    """
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    pipe.delete(WAKE_FLAG)
    pipe.lpop(PENDING_LIST, limit)
    pipe.llen(PENDING_LIST)
    _, ids, left = pipe.execute()
    if left and redis.set(WAKE_FLAG, 1, nx=True, ex=WAKE_TTL):
        _queue_dispatch(timeout)
    return [int(i) for i in ids or []]


def pending_publications() -> int:
    """How many published ids wait for a dispatch job (for the dashboard)."""
    return int(get_redis().llen(PENDING_LIST))


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
