"""The dashboard's screens, one module each, and the order they appear in the menu."""

from __future__ import annotations

from flask_admin import Admin

from app.admin.views.home import HomeView
from app.admin.views.subscribers import SubscriberView
from app.extensions import db
from app.models import Subscription

__all__ = ["HomeView", "register"]


def register(admin: Admin) -> None:
    """Add every screen to ``admin`` (a fresh set per app: views bind to one app's blueprints)."""
    admin.add_view(
        SubscriberView(Subscription, db, name="Subscribers", endpoint="subscribers")
    )
