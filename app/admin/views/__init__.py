"""The dashboard's screens, one module each, and the order they appear in the menu.

May import: ``app.admin``'s own modules, the use cases and the layers below them.
"""

from __future__ import annotations

from flask_admin import Admin

from app.admin.views.configuration import ConfigurationView
from app.admin.views.dead_letters import DeadLettersView
from app.admin.views.home import HomeView
from app.admin.views.logs import LogsView
from app.admin.views.subscribers import SubscriberView
from app.admin.views.tokens import TokensView
from app.admin.views.trace import TraceView
from app.admin.views.users import UsersView
from app.extensions import db
from app.models import Subscription

__all__ = ["HomeView", "register"]


def register(admin: Admin) -> None:
    """Add every screen to ``admin`` (a fresh set per app: views bind to one app's blueprints)."""
    admin.add_view(SubscriberView(Subscription, db, name="Subscribers", endpoint="subscribers"))
    admin.add_view(LogsView(name="Logs", endpoint="logs", url="logs"))
    admin.add_view(TraceView(name="Trace", endpoint="trace", url="logs/trace"))
    admin.add_view(DeadLettersView(name="Dead Letters", endpoint="dead_letters"))
    for view, name, endpoint in (
        (ConfigurationView, "Configuration", "configuration"),
        (TokensView, "API Tokens", "tokens"),
        (UsersView, "Users", "users"),
    ):
        admin.add_view(view(name=name, endpoint=endpoint, category="System"))
