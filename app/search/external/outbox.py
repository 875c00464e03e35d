"""The database side of external indexing: the outbox, and log rows as documents.

No log row is ever lost to a cluster outage: ``enqueue`` writes an outbox row
in the very transaction that writes the log row, so both commit or neither does. An
outbox row is deleted (``acknowledge``) only after the cluster acknowledged its
document; a document the cluster rejects stays, with ``attempts`` and the error
(``reject``), and is tried again after the fresh rows. An outage touches no row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, func, select, update

from app.extensions import db
from app.models import DeliveryLog, SearchOutbox, Subscription
from app.search.backend import LogDocument
from app.search.documents import decode

ERROR_LIMIT = 2000  # characters of a rejection kept for the operator


@dataclass(frozen=True)
class Pending:
    """One outbox row with its document, or None if the log row is gone (delete it)."""

    id: int
    log_id: int
    event_name: str
    document: LogDocument | None


def enqueue(rows: Iterable[tuple[int, str]]) -> None:
    """Queue ``(log_id, event_name)`` rows in the current transaction; the caller commits
    it with the logs."""
    db.session.add_all(SearchOutbox(log_id=log_id, event_name=name) for log_id, name in rows)


def park(rejected: Sequence[tuple[LogDocument, str]]) -> None:
    """Queue documents a rebuild could not index, as rejected once (the caller commits)."""
    db.session.add_all(
        SearchOutbox(log_id=doc.log_id, event_name=doc.event_name, attempts=1, last_error=error)
        for doc, error in ((doc, error[:ERROR_LIMIT]) for doc, error in rejected)
    )


def pending(limit: int) -> list[Pending]:
    """The next rows to send: never-rejected rows first, oldest first."""
    query = select(SearchOutbox).order_by(SearchOutbox.attempts, SearchOutbox.id).limit(limit)
    rows = db.session.scalars(query).all()
    found = documents([row.log_id for row in rows])
    return [Pending(r.id, r.log_id, r.event_name, found.get(r.log_id)) for r in rows]


def acknowledge(ids: Iterable[int]) -> None:
    """Forget rows Elasticsearch acknowledged (the caller commits)."""
    ids = list(ids)
    if ids:
        db.session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(ids)))


def reject(errors: dict[int, str]) -> None:
    """Keep rejected rows pending, counting the attempt and saying why (the caller commits)."""
    for row_id, error in errors.items():
        db.session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.id == row_id)
            .values(attempts=SearchOutbox.attempts + 1, last_error=error[:ERROR_LIMIT])
        )


def waiting() -> int:
    """How many rows wait for Elasticsearch."""
    return db.session.scalar(select(func.count()).select_from(SearchOutbox)) or 0


def documents(log_ids: Sequence[int]) -> dict[int, LogDocument]:
    """The documents of the log rows that still exist, by log_id."""
    if not log_ids:
        return {}
    query = _logs().where(DeliveryLog.log_id.in_(set(log_ids))).order_by(DeliveryLog.log_id)
    rows = db.session.execute(query)
    return {log.log_id: _document(log, name) for log, name in rows}


def event_keys() -> list[str]:
    """Every index key: the lower-cased event name of each subscription, once."""
    names = db.session.scalars(select(Subscription.event_name).distinct())
    return sorted({name.lower() for name in names})


def count_logs(key: str) -> int:
    """How many log rows belong to the index of ``key``."""
    query = select(func.count()).select_from(_logs().where(_of_key(key)).subquery())
    return db.session.scalar(query) or 0


def log_batches(key: str, size: int) -> Iterator[list[LogDocument]]:
    """Every log row of ``key``'s index as documents, in log_id order, ``size`` at a time.

    Each batch ends its read transaction before it is yielded: on SQLite every
    transaction holds the write lock, and the caller talks to Elasticsearch next.
    """
    after = 0
    while True:
        query = _logs().where(_of_key(key), DeliveryLog.log_id > after)
        rows = db.session.execute(query.order_by(DeliveryLog.log_id).limit(size)).all()
        db.session.commit()
        if not rows:
            return
        after = rows[-1][0].log_id
        yield [_document(log, name) for log, name in rows]


def _logs() -> Select[tuple[DeliveryLog, str]]:
    return select(DeliveryLog, Subscription.event_name).join(
        Subscription, Subscription.subscription_id == DeliveryLog.subscription_id
    )


def _of_key(key: str) -> ColumnElement[bool]:
    return func.lower(Subscription.event_name) == key


def _document(log: DeliveryLog, event_name: str) -> LogDocument:
    return LogDocument(
        log_id=log.log_id,
        subscription_id=log.subscription_id,
        uuid=log.uuid,
        event_name=event_name,
        success=bool(log.success),
        created=log.created.strftime("%Y-%m-%d %H:%M:%S"),
        response_data=log.response_data or "",
        data=decode(log.serialized_data),
    )
