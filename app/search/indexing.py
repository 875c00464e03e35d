"""Indexing delivery logs: log rows as search documents, written by the app's backend.

Callers index in the transaction that writes the log rows (``outcomes.record``,
``logimport``), so a log row and its index rows commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.extensions import db
from app.models import DeliveryLog, Subscription
from app.search.backend import LogDocument
from app.search.documents import decode
from app.search.registry import backends, get_backend, init_app

__all__ = [
    "CREATED_FORMAT",
    "backends",
    "documents_for",
    "get_backend",
    "index_documents",
    "index_logs",
    "init_app",
]

CREATED_FORMAT = "%Y-%m-%d %H:%M:%S"  # the contract's yyyy-MM-dd HH:mm:ss, UTC


def documents_for(rows: Sequence[DeliveryLog]) -> list[LogDocument]:
    """The search documents of log rows that have ids (flushed), with their event names."""
    sub_ids = {row.subscription_id for row in rows}
    names = dict(
        db.session.execute(
            select(Subscription.subscription_id, Subscription.event_name).where(
                Subscription.subscription_id.in_(sub_ids)
            )
        ).all()
    )
    return [
        LogDocument(
            log_id=row.log_id,
            subscription_id=row.subscription_id,
            uuid=row.uuid,
            event_name=names.get(row.subscription_id, ""),
            success=bool(row.success),
            created=row.created.strftime(CREATED_FORMAT),
            response_data=row.response_data or "",
            data=decode(row.serialized_data),
        )
        for row in rows
    ]


def indexing_enabled() -> bool:
    """The operators' runtime switch (setting ``indexing_enabled``), read fresh each time."""
    from app import settings  # the setting's type and default live there

    return bool(settings.get("indexing_enabled"))


def index_logs(rows: Sequence[DeliveryLog]) -> None:
    """Index flushed log rows in the current transaction, unless indexing is disabled."""
    if rows and indexing_enabled():
        get_backend().index(documents_for(rows))


def index_documents(documents: Sequence[LogDocument], enabled: bool) -> None:
    """Index documents a caller built itself, in the current transaction, if ``enabled``."""
    if documents and enabled:
        get_backend().index(documents)
