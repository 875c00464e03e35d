"""Delivery chains, one log row per attempt, and dead letters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ChainState:
    """The states of a delivery chain."""

    PENDING = "pending"  # an attempt is due at next_attempt_at (or running, see locked_until)
    DELIVERED = "delivered"
    DEAD = "dead"  # exhausted its retries or failed permanently: see its dead letter
    CANCELLED = "cancelled"  # the subscription was disabled: the chain ended quietly


class Delivery(db.Model):
    """A delivery chain: one payload to one subscription under one UUID.

    The database, not Redis, is the record of pending work: a chain that is
    ``pending`` and overdue is re-queued by the sweep, whatever Redis forgot.
    A replay starts a new chain under the same UUID.
    """

    __tablename__ = "async_event_delivery"
    __table_args__ = (Index("ix_delivery_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), index=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("async_event_subscriber.subscription_id"), index=True
    )
    event_name: Mapped[str] = mapped_column(String(255))
    store_id: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str] = mapped_column(Text)  # JSON snapshot, never re-resolved
    state: Mapped[str] = mapped_column(String(16), default=ChainState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    is_replay: Mapped[bool] = mapped_column(Boolean, default=False)
    publication_id: Mapped[int | None] = mapped_column(
        ForeignKey("async_event_publication.id"), index=True
    )
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class DeliveryLog(db.Model):
    """One delivery attempt: the original's ``async_event_subscriber_log`` plus detail."""

    __tablename__ = "async_event_subscriber_log"

    log_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str | None] = mapped_column(String(255), index=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("async_event_subscriber.subscription_id"), index=True
    )
    success: Mapped[bool] = mapped_column(Boolean)
    response_data: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    serialized_data: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    retryable: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("async_event_delivery.id"), index=True
    )


class DeadLetter(db.Model):
    """A chain that could not be delivered: it keeps its UUID so it can be traced and replayed."""

    __tablename__ = "async_event_dead_letter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), index=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("async_event_subscriber.subscription_id"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("async_event_delivery.id"))
    death_count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))  # exhausted | permanent | gone
    last_response: Mapped[str] = mapped_column(Text, default="")
    serialized_data: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
