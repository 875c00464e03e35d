"""A published event, kept until its fan-out is done so Redis never holds the only copy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.delivery import BigId
from app.models.types import utcnow


class PublicationState:
    """The states of a publication."""

    PENDING = "pending"  # waiting for the trigger job (or for Redis to come back)
    DISPATCHED = "dispatched"  # fanned out into delivery chains
    FAILED = "failed"  # the resolver failed: see ``error``


class Publication(db.Model):
    """The durable record of one ``publish()`` call, the outbox of the trigger queue."""

    __tablename__ = "async_event_publication"
    __table_args__ = (Index("ix_publication_state_created", "state", "created"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_name: Mapped[str] = mapped_column(String(255))
    arguments: Mapped[str] = mapped_column(Text)  # JSON
    store_id: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=PublicationState.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    chain_count: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
