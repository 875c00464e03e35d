"""Dashboard figures: recent delivery outcomes, hourly success, queue depths, failing endpoints.

Every figure is computed on demand from the database or Redis, so the home page is as
current as the last attempt. Queue depths come from Redis and are None when it is down:
an unreachable broker must not take the dashboard with it, since that is when it is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import and_, case, func, select

from app.broker.connection import get_redis
from app.delivery.queues import RETRY_QUEUE, TRIGGER_QUEUE, pending_publications
from app.extensions import db
from app.models import DeadLetter, DeliveryLog, Subscription
from app.models.types import utcnow
from app.search.indexing import get_engines


@dataclass(frozen=True)
class Hour:
    """Attempts that started within one hour: its start, successes and failures."""

    start: datetime
    succeeded: int
    failed: int

    @property
    def rate(self) -> float | None:
        """Share of attempts that succeeded, or None when there were none."""
        total = self.succeeded + self.failed
        return self.succeeded / total if total else None


@dataclass(frozen=True)
class FailingEndpoint:
    """A subscription's recipient and how many of its attempts failed in the window."""

    subscription_id: int
    event_name: str
    recipient_url: str
    failures: int


def hourly(hours: int = 24, now: datetime | None = None) -> list[Hour]:
    """Successes and failures per hour for the last ``hours`` whole hours, oldest first.

    One query with one conditional sum per bucket: portable across SQLite and
    PostgreSQL, and it reads only the ``created`` index range of the window.
    """
    end = (now or utcnow()).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    starts = [end - timedelta(hours=hours - i) for i in range(hours)]
    created, success = DeliveryLog.created, DeliveryLog.success
    columns = []
    for start in starts:
        inside = and_(created >= start, created < start + timedelta(hours=1))
        columns.append(func.sum(case((and_(inside, success.is_(True)), 1), else_=0)))
        columns.append(func.sum(case((and_(inside, success.is_(False)), 1), else_=0)))
    row = db.session.execute(select(*columns).where(created >= starts[0], created < end)).one()
    counts = [int(value or 0) for value in row]
    return [Hour(s, counts[2 * i], counts[2 * i + 1]) for i, s in enumerate(starts)]


def outcome_totals(since: datetime) -> tuple[int, int]:
    """Attempts since ``since``: (succeeded, failed)."""
    query = select(DeliveryLog.success, func.count()).where(DeliveryLog.created >= since)
    counts = dict(db.session.execute(query.group_by(DeliveryLog.success)).all())
    return int(counts.get(True, 0)), int(counts.get(False, 0))


def dead_letters() -> int:
    """How many chains are dead-lettered (exhausted or permanently failed)."""
    return int(db.session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def failing_endpoints(since: datetime, limit: int = 5) -> list[FailingEndpoint]:
    """The subscriptions with the most failed attempts since ``since``, most first."""
    failures = func.count(DeliveryLog.log_id).label("failures")
    query = (
        select(Subscription.subscription_id, Subscription.event_name, Subscription.recipient_url)
        .add_columns(failures)
        .join(DeliveryLog, DeliveryLog.subscription_id == Subscription.subscription_id)
        .where(DeliveryLog.created >= since, DeliveryLog.success.is_(False))
        .group_by(Subscription.subscription_id, Subscription.event_name, Subscription.recipient_url)
        .order_by(failures.desc(), Subscription.subscription_id)
        .limit(limit)
    )
    return [FailingEndpoint(*row) for row in db.session.execute(query).all()]


def queue_depths() -> dict[str, int | None]:
    """Work waiting to fan out, jobs waiting on the retry queue, and retries scheduled later.

    Publishes wait in a Redis list for a dispatch job (see ``app.delivery.queues``), so the
    trigger figure is that list's length plus the jobs on the trigger queue.

    Every value is None when Redis cannot be reached.
    """
    try:
        conn = get_redis()
        trigger, retry = Queue(TRIGGER_QUEUE, connection=conn), Queue(RETRY_QUEUE, connection=conn)
        scheduled = trigger.scheduled_job_registry.count + retry.scheduled_job_registry.count
        waiting = trigger.count + pending_publications()
        return {"trigger": waiting, "retry": retry.count, "scheduled": scheduled}
    except (RedisError, OSError):
        return {"trigger": None, "retry": None, "scheduled": None}


def search_status() -> dict[str, Any]:
    """The search engines: whether the embedded index is kept, and the external
    cluster's URL, engine and version, and why it cannot answer now, if it cannot."""
    engines = get_engines()
    found: dict[str, Any] = {"embedded": engines.embedded is not None}
    if engines.external is not None:
        cluster = engines.external.status()
        problem = cluster.problem or engines.recent_outage()
        found["external"] = {
            "url": cluster.url,
            "engine": cluster.engine,
            "status": "unavailable" if problem else "ok",
            "problem": problem,
        }
    return found
