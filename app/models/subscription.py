"""A subscription: which event goes to which recipient through which sink."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models import recipients
from app.models.types import EncryptedText, utcnow


class Subscription(db.Model):
    """The original's ``async_event_subscriber`` row, plus why it was disabled.

    ``metadata`` is the sink key (``http``, ``eventbridge``...). The attribute is
    ``sink`` because SQLAlchemy reserves ``metadata``; the column keeps its name.
    """

    __tablename__ = "async_event_subscriber"

    subscription_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_name: Mapped[str] = mapped_column(String(255), index=True)
    recipient_url: Mapped[str] = mapped_column(String(1024))
    verification_token: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    sink: Mapped[str] = mapped_column("metadata", Text)
    store_id: Mapped[int] = mapped_column(Integer, default=0)  # 0-65535, as Magento's
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Token rotation: the replaced token keeps signing until it expires.
    previous_token: Mapped[str | None] = mapped_column(EncryptedText)
    previous_token_expires: Mapped[datetime | None] = mapped_column(DateTime)
    # The recipient URL's password, apart and encrypted (app.models.recipients).
    recipient_secret: Mapped[str | None] = mapped_column(EncryptedText)

    def delivery_recipient(self) -> str:
        """The recipient as deliveries use it: the URL with its password put back."""
        return recipients.join(self.recipient_url, self.recipient_secret)

    def signing_tokens(self) -> tuple[str, ...]:
        """The tokens that sign a delivery now: the current one, then the previous during
        its grace."""
        expires = self.previous_token_expires
        if self.previous_token and expires is not None and expires > utcnow():
            return (self.verification_token, self.previous_token)
        return (self.verification_token,)

    def __repr__(self) -> str:
        return f"<Subscription {self.subscription_id} {self.event_name} -> {self.recipient_url}>"
