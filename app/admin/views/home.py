"""Home: the state of delivery at a glance."""

from __future__ import annotations

from datetime import timedelta

from flask.typing import ResponseReturnValue
from flask_admin import expose

from app.admin import chart
from app.admin.views.base import SecuredIndexView
from app.models.types import utcnow
from app.usecases import dashboard

WINDOW = timedelta(hours=24)
FAILING_SHOWN = 5


class HomeView(SecuredIndexView):
    """Deliveries in the last 24 h, success rate, queues, dead letters, failing endpoints."""

    @expose("/")
    def index(self) -> ResponseReturnValue:
        since = utcnow() - WINDOW
        succeeded, failed = dashboard.outcome_totals(since)
        total = succeeded + failed
        return self.render(
            "admin/home.html",
            succeeded=succeeded,
            failed=failed,
            rate=succeeded / total if total else None,
            dead_letters=dashboard.dead_letters(),
            queues=dashboard.queue_depths(),
            bars=chart.rate_bars(dashboard.hourly(24)),
            gridlines=chart.gridlines(),
            chart=chart,
            failing=dashboard.failing_endpoints(since, FAILING_SHOWN),
            search=dashboard.search_status(),
        )
