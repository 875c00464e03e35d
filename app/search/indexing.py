"""Indexing delivery logs: log rows as search documents, written by the app's backend.

Callers index in the transaction that writes the log rows (``outcomes.record``,
``logimport``), so a log row and its index rows commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from app import settings
from app.models import DeliveryLog
from app.search.backend import LogDocument
from app.search.documents import documents_for
from app.search.registry import get_backend, get_engines, init_app

__all__ = [
    "get_backend",
    "get_engines",
    "index_documents",
    "index_logs",
    "init_app",
]


def indexing_enabled() -> bool:
    """The operators' runtime switch (setting ``indexing_enabled``), read fresh each time."""
    return bool(settings.get("indexing_enabled"))


def index_logs(rows: Sequence[DeliveryLog]) -> None:
    """Index flushed log rows in the current transaction, unless indexing is disabled."""
    if rows and indexing_enabled():
        index_documents(documents_for(rows), True)


def index_documents(documents: Sequence[LogDocument], enabled: bool) -> None:
    """Index documents a caller built itself, in the current transaction, if ``enabled``."""
    if documents and enabled:
        for backend in get_engines().writers:  # the embedded index, the cluster's outbox
            backend.index(documents)
