"""Rebuilding the SQL index from the log rows: drop the index rows, then re-index in batches.

Each batch commits on its own, so a rebuild of millions of rows never holds one huge
transaction (SQLite's write lock is released between batches). Only log rows without
a document are indexed, so rows that deliveries index meanwhile are not done twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, select, true

from app.extensions import db
from app.models import DeliveryLog, SearchDocument, SearchKeyword, SearchNumber, Subscription
from app.search.backend import LogDocument
from app.search.documents import documents_for
from app.search.sql.fields import FieldIds

BATCH = 2000


def rebuild(
    index: Callable[[Sequence[LogDocument]], None],
    fields: FieldIds,
    event_name: str | None = None,
    progress: Any = None,
) -> int:
    """Re-index the log rows of ``event_name`` (every log row if None); return how many."""
    wanted = _logs_of(event_name)
    _drop(fields, wanted if event_name is not None else None)
    db.session.commit()
    if progress is not None:
        progress.reset(total=db.session.scalar(select(func.count()).where(wanted)))
    indexed, after = 0, 0
    while True:
        missing = (
            ~select(SearchDocument.log_id)
            .where(SearchDocument.log_id == DeliveryLog.log_id)
            .exists()
        )
        query = select(DeliveryLog).where(wanted, DeliveryLog.log_id > after, missing)
        rows = db.session.scalars(query.order_by(DeliveryLog.log_id).limit(BATCH)).all()
        if not rows:
            return indexed
        index(documents_for(rows))
        db.session.commit()
        indexed, after = indexed + len(rows), rows[-1].log_id
        if progress is not None:
            progress.update(len(rows))


def _logs_of(event_name: str | None) -> ColumnElement[bool]:
    if event_name is None:
        return true()
    subscriptions = select(Subscription.subscription_id).where(
        Subscription.event_name == event_name
    )
    return DeliveryLog.subscription_id.in_(subscriptions)


def _drop(fields: FieldIds, wanted: ColumnElement[bool] | None) -> None:
    """Delete the index rows of the wanted log rows (all index rows if None)."""
    if wanted is None:
        for model in (SearchKeyword, SearchNumber, SearchDocument):
            db.session.execute(delete(model))
        return
    paths = fields.paths(db.session())
    logs = select(DeliveryLog.log_id).where(wanted, DeliveryLog.log_id == SearchDocument.log_id)
    ids = list(db.session.scalars(select(SearchDocument.log_id).where(logs.exists())))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        query = select(SearchDocument.log_id, SearchDocument.leaves)
        documents = db.session.execute(query.where(SearchDocument.log_id.in_(chunk))).all()
        for kind, model in (("k", SearchKeyword), ("n", SearchNumber)):
            keys = [
                {"f": paths[path], "v": float(value) if kind == "n" else value, "l": log_id}
                for log_id, leaves in documents
                for path, values in _leaves(leaves)[kind].items()
                for value in values
                if path in paths
            ]
            if keys:
                table = model.__table__
                statement = delete(table).where(
                    table.c.field_id == bindparam("f"),
                    table.c.value == bindparam("v"),
                    table.c.log_id == bindparam("l"),
                )
                db.session.connection().execute(statement, keys)
        db.session.execute(delete(SearchDocument).where(SearchDocument.log_id.in_(chunk)))


def _leaves(stored: Any) -> dict[str, dict[str, list[Any]]]:
    """A document's leaves: PostgreSQL returns the JSONB decoded, SQLite the text."""
    return json.loads(stored) if isinstance(stored, str) else stored
