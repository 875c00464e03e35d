"""Retention: delete log rows older than the configured lifetime, when cleanup is on."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from app import settings
from app.extensions import db
from app.models import DeliveryLog
from app.models.types import utcnow


def cleanup_logs(force: bool = False, days: int | None = None) -> int:
    """Delete logs older than ``log_lifetime_days``; return how many went.

    Does nothing unless the ``log_cleanup_enabled`` setting is on or ``force`` is
    given, as the original's daily cron did.
    """
    if not (force or settings.get("log_cleanup_enabled")):
        return 0
    lifetime = settings.get("log_lifetime_days") if days is None else days
    cutoff = utcnow() - timedelta(days=lifetime)
    result = db.session.execute(delete(DeliveryLog).where(DeliveryLog.created < cutoff))
    db.session.commit()
    return result.rowcount or 0
