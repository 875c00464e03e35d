"""Health: is the service up, and can it reach its database and Redis."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.broker.connection import get_redis
from app.events import get_registry
from app.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """What this service is and where to go next."""
    return jsonify(
        service="Async Events",
        health=url_for("health.healthz", _external=True),
        events=get_registry().names(),
    )


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when the database and Redis answer, 503 naming what does not."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    finally:
        db.session.rollback()
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503
