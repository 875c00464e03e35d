"""The search backend registry: ``sql`` (embedded, the default) or ``elasticsearch``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app

from app.search.backend import SearchBackend
from app.search.cost import CostLimits


def _sql(app: Flask) -> SearchBackend:
    from app.extensions import db
    from app.search.sql import pg_budget
    from app.search.sql.backend import SqlBackend

    with app.app_context():
        pg_budget.install(db.engine)  # PostgreSQL: a search statement is cancelled at its deadline
    return SqlBackend()


def _elasticsearch(app: Flask) -> SearchBackend:
    from app.search.elasticsearch.backend import ElasticsearchBackend

    return ElasticsearchBackend.from_config(app.config)


backends: dict[str, Callable[[Flask], Any]] = {"sql": _sql, "elasticsearch": _elasticsearch}


def init_app(app: Flask) -> None:
    """Choose the app's backend: Elasticsearch when ELASTICSEARCH_URL is set, else SQL.

    Nothing connects here; the backend is built now, and the cost limits and time
    budgets checked, so a bad setting fails at start-up.
    """
    CostLimits.from_config(app.config)
    for setting in ("SEARCH_TIMEOUT", "SEARCH_EXPORT_TIMEOUT"):
        if not float(app.config.get(setting, 1.0)) > 0:
            raise ValueError(f"{setting} must be a positive number of seconds")
    name = "elasticsearch" if app.config.get("ELASTICSEARCH_URL") else "sql"
    app.extensions["search_backend"] = backends[name](app)


def get_backend() -> SearchBackend:
    """The current app's search backend."""
    return current_app.extensions["search_backend"]
