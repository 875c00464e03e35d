"""Home: the state of delivery at a glance."""

from __future__ import annotations

from flask.typing import ResponseReturnValue
from flask_admin import expose

from app.admin.views.base import SecuredIndexView


class HomeView(SecuredIndexView):
    """Deliveries in the last 24 h, success rate, queues, dead letters, failing endpoints."""

    @expose("/")
    def index(self) -> ResponseReturnValue:
        return self.render("admin/home.html")
