"""The application factory: the only place the app is composed."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from app.instance import instance_secret
from config import Config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from ``Config`` (the environment), then ``test_config`` overrides.

    Loads and validates the event definitions, so a broken ``async_events.xml``
    stops start-up with its file and line.
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "ASYNC_EVENTS_INSTANCE_PATH"
    )
    app = Flask(__name__, instance_path=os.path.abspath(instance_path) if instance_path else None)
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    _default_storage(app)

    from app import admin, api, cli, events, sinks
    from app.broker import connection as broker
    from app.extensions import db, migrate
    from app.models import types
    from app.search import registry as search

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(app.root_path).parent / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    with app.app_context():
        from app.db import sqlite

        sqlite.configure(db.engine)
    types.init_app(app)
    broker.init_app(app)
    events.init_app(app)
    sinks.init_app(app)
    search.init_app(app)
    cli.init_app(app)
    api.init_app(app)
    admin.init_app(app)
    return app


def _default_storage(app: Flask) -> None:
    """Fill in the embedded defaults under instance/: SQLite and a persisted secret key."""
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        url = app.config.get("DATABASE_URL") or (
            "sqlite:///" + os.path.join(app.instance_path, "async_events.db")
        )
        app.config["SQLALCHEMY_DATABASE_URI"] = url
    # A server connection can die while pooled; a SQLite file cannot, so it skips the ping.
    pre_ping = not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": pre_ping})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app, "secret_key", secrets.token_hex(32))
