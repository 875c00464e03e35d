"""Health: is the service up, can it reach its database and Redis, and how it searches."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.broker.connection import get_redis
from app.events import get_registry
from app.extensions import db
from app.usecases import dashboard

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
    """200 when the database and Redis answer, 503 naming what does not.

    ``search`` names the engines and why the external one cannot answer now; it is
    informative only: the embedded index stands in, and delivery does not depend on
    search, so it never makes this a 503 (a load balancer would drop a healthy node)."""
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
    status = "ok" if healthy else "degraded"
    return jsonify(
        status=status, search=dashboard.search_status(), **checks
    ), 200 if healthy else 503
