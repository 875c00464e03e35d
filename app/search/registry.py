"""The app's search engines: the embedded SQL index, and an external cluster if configured.

The embedded index is always there, and written in the log rows' transaction, unless
an external cluster is configured and ``SEARCH_EMBEDDED_INDEX`` is off. The external
cluster (``ELASTICSEARCH_URL`` or ``OPENSEARCH_URL``) is preferred for searching;
``failover`` answers from the embedded index while it is unavailable. Nothing here
raises for the cluster: settings that cannot work, or a cluster that does not answer,
make it unavailable with a reason, which ``/healthz`` and the dashboard show.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from app.search.backend import SearchBackend
from app.search.cost import CostLimits

log = logging.getLogger(__name__)


@dataclass
class SearchEngines:
    """The embedded index and the external cluster (either may be None, not both)."""

    embedded: Any | None  # app.search.sql.backend.SqlBackend
    external: Any | None  # app.search.external.backend.ExternalBackend
    retry_seconds: float = 15.0
    _outage: tuple[float, str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def preferred(self) -> SearchBackend:
        """Where searches go first: the external cluster if there is one."""
        return self.external or self.embedded

    @property
    def writers(self) -> list[Any]:
        """Every backend that indexes new log rows."""
        return [b for b in (self.embedded, self.external) if b is not None]

    def note_outage(self, why: str) -> None:
        """The external cluster just failed a search: skip it for ``retry_seconds``."""
        with self._lock:
            self._outage = (time.monotonic(), why)

    def clear_outage(self) -> None:
        """It answered again."""
        with self._lock:
            self._outage = None

    def recent_outage(self) -> str | None:
        """Why the external cluster failed, if it did within ``retry_seconds``."""
        outage = self._outage
        if outage is None or time.monotonic() - outage[0] >= self.retry_seconds:
            return None
        return outage[1]


def _sql(app: Flask) -> Any:
    from app.extensions import db
    from app.search.sql import pg_budget
    from app.search.sql.backend import SqlBackend

    with app.app_context():
        pg_budget.install(db.engine)  # PostgreSQL: a search statement is cancelled at its deadline
    return SqlBackend()


def _external(app: Flask) -> Any | None:
    from app.search.external.backend import ExternalBackend
    from app.search.external.config import ClusterConfig

    cluster = ClusterConfig.from_config(app.config)
    if cluster is None:
        return None
    prefix = app.config.get("SEARCH_INDEX_PREFIX") or "async_events"
    retry = float(app.config.get("SEARCH_RETRY_SECONDS", 15.0))
    return ExternalBackend(cluster, prefix, retry_seconds=retry)


def init_app(app: Flask) -> None:
    """Build the app's engines and try the cluster's handshake once, never failing on it.

    The cost limits and time budgets are checked here, so a bad setting of those
    fails at start-up; the index prefix too (it names indices, and cannot be fixed later).
    """
    CostLimits.from_config(app.config)
    for setting in ("SEARCH_TIMEOUT", "SEARCH_EXPORT_TIMEOUT", "SEARCH_RETRY_SECONDS"):
        if not float(app.config.get(setting, 1.0)) > 0:
            raise ValueError(f"{setting} must be a positive number of seconds")
    external = _external(app)
    keep_embedded = external is None or app.config.get("SEARCH_EMBEDDED_INDEX", True)
    embedded = _sql(app) if keep_embedded else None
    retry = float(app.config.get("SEARCH_RETRY_SECONDS", 15.0))
    app.extensions["search_engines"] = SearchEngines(embedded, external, retry)
    if external is not None:
        found = external.connect()
        if found.engine:
            log.info("external search: %s at %s", found.engine, found.url)
        else:
            log.warning("external search unavailable: %s", found.problem)


def get_engines() -> SearchEngines:
    """The current app's engines."""
    return current_app.extensions["search_engines"]


def get_backend() -> SearchBackend:
    """Where the current app's searches go first (the external cluster, if configured)."""
    return get_engines().preferred
