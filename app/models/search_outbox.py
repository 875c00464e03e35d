"""The search outbox: log rows written but not yet acknowledged by Elasticsearch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.delivery import BigId
from app.models.types import utcnow


class SearchOutbox(db.Model):
    """One log row Elasticsearch still has to index (or delete, if the log is gone).

    Written in the transaction that writes the log row, deleted only once
    Elasticsearch acknowledged the document, so no committed log is ever missed.
    ``log_id`` is deliberately not a foreign key: retention may delete the log
    first, and the pending row then removes its document. ``attempts`` and
    ``last_error`` count and explain rejections of this document (not outages).
    """

    __tablename__ = "async_event_search_outbox"
    __table_args__ = (Index("ix_search_outbox_pending", "attempts", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    log_id: Mapped[int] = mapped_column(BigInteger, index=True)
    event_name: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
