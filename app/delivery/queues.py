"""Names the RQ queues and puts jobs on them; a Redis outage is reported, never raised."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from redis.exceptions import RedisError
from rq import Queue

from app.broker.connection import get_redis

TRIGGER_QUEUE = "event.trigger"
RETRY_QUEUE = "event.retry"
QUEUES = (TRIGGER_QUEUE, RETRY_QUEUE)

# Jobs are named by dotted path: services must not import the jobs package.
TRIGGER_JOB = "jobs.delivery.trigger_publication"
DISPATCH_JOB = "jobs.delivery.dispatch_publications"
ATTEMPT_JOB = "jobs.delivery.attempt_delivery"

# Published ids wait in this list. Long-running workers pop it themselves, with a
# feeder thread (app.delivery.feeder) that blocks on it; while any feeder is alive
# (FEEDERS_KEY, refreshed every FEEDER_BEAT s) a publish costs one Redis round trip
# and nothing else. Without one (burst workers, tests), one dispatch job at a time is
# queued to drain the list; WAKE_FLAG says one is queued.
PENDING_LIST = "async_events:publications"
WAKE_FLAG = "async_events:publications:wake"
WAKE_TTL = 10  # s: a wake-up lost with its job is re-sent this much later at the latest
DISPATCH_BATCH = 200  # publications fanned out at most at once, by a feeder or a job
FEEDERS_KEY = "async_events:publications:feeders"
FEEDER_BEAT = 1  # s: how long a feeder blocks on the list between heartbeats
FEEDER_TTL = 5  # s: a feeder silent this long counts as gone; jobs wake up again

# Append the ids; set the wake flag, unless a feeder is alive or the flag is set already.
# Returns 1 when the caller must queue a dispatch job.
_PUSH = """
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[1]) then return 1 end
return 0
"""
_PUSH_CHUNK = 1000  # ids per script call: Lua's unpack has a stack limit

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
    """Hand committed publications to the workers; False if Redis is unreachable.

    One round trip (a script) appends the ids; a feeder pops them at once. With no
    feeder alive, the publish that sets the wake flag also queues a dispatch job. The
    list is only a wake-up: the publication row stays pending until fanned out, and
    the sweep finds it if Redis loses the id.
    """
    if not publication_ids:
        return True
    try:
        redis = get_redis()
        push = redis.register_script(_PUSH)
        wake = False
        for first in range(0, len(publication_ids), _PUSH_CHUNK):
            chunk = publication_ids[first : first + _PUSH_CHUNK]
            keys = [PENDING_LIST, WAKE_FLAG, FEEDERS_KEY]
            wake = push(keys=keys, args=[WAKE_TTL, *chunk], client=redis) == 1 or wake
        if wake:
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


def wait_publications(limit: int) -> list[int]:
    """For a feeder: up to ``limit`` published ids, blocking up to FEEDER_BEAT s for one.

    Marks a feeder alive in the same round trip, so publishes stop queuing dispatch
    jobs. An id pushed to an empty list wakes the blocked feeder at once.
    """
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    pipe.set(FEEDERS_KEY, 1, ex=FEEDER_TTL)
    pipe.lpop(PENDING_LIST, limit)
    ids = pipe.execute()[1]
    if not ids:
        first = redis.blpop([PENDING_LIST], timeout=FEEDER_BEAT)
        ids = [first[1]] if first else []
    return [int(i) for i in ids]


def feeder_gone(timeout: int = 300) -> None:
    """A feeder stops: ids it leaves behind get a dispatch job, if no other feeder is alive.

    The heartbeat key is dropped, so publishes queue dispatch jobs again until another
    feeder beats (at most FEEDER_BEAT s later).
    """
    redis = get_redis()
    redis.delete(FEEDERS_KEY)
    if redis.llen(PENDING_LIST) and redis.set(WAKE_FLAG, 1, nx=True, ex=WAKE_TTL):
        _queue_dispatch(timeout)


def backlog() -> int:
    """Jobs waiting in the queues (not those scheduled for later); 0 if Redis is unreachable,
    whose callers' enqueues then report the outage themselves."""
    try:
        return sum(get_queue(name).count for name in QUEUES)
    except RedisError:
        return 0


def pending_publications() -> int:
    """How many published ids wait for a feeder or a dispatch job (for the dashboard)."""
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
