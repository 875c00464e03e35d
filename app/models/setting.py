"""A runtime setting that operators change without restarting anything."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import utcnow


class Setting(db.Model):
    """One key and its value as text; ``app.settings`` knows the types and defaults."""

    __tablename__ = "async_event_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
