"""Bearer-token authentication, permission checks, and throttling of failed attempts."""

from __future__ import annotations

import logging

from flask import current_app, g, request
from redis.exceptions import RedisError

from app.api.rest.errors import ApiError
from app.broker import get_redis
from app.services import access

log = logging.getLogger(__name__)
FAIL_KEY = "async_events:auth_failures:{client}"
DENIED = "The consumer isn't authorized to access %resources."  # the original's words


def require(permission: str | None) -> None:
    """Authenticate the bearer token and check ``permission`` (``manage`` grants all).

    401 for a missing or unknown token, 403 for a token without the permission,
    429 once a client has failed too often within the window.
    """
    if permission is None:
        return
    client = request.remote_addr or "unknown"
    _refuse_if_throttled(client)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = access.find_token(token.strip()) if scheme.lower() == "bearer" and token else None
    if row is None:
        _count_failure(client)
        raise ApiError(401, DENIED, {"resources": permission})
    granted = set(row.permissions.split())
    if "manage" not in granted and permission not in granted:
        raise ApiError(403, DENIED, {"resources": permission})
    g.api_token = row


def _window() -> tuple[int, int]:
    config = current_app.config
    return config["API_AUTH_FAILURE_LIMIT"], config["API_AUTH_FAILURE_WINDOW"]


def _refuse_if_throttled(client: str) -> None:
    limit, window = _window()
    try:
        failures = int(get_redis().get(FAIL_KEY.format(client=client)) or 0)
    except RedisError as exc:  # throttling is a defence, not a dependency: fail open
        log.warning("auth throttling skipped: Redis unreachable (%s)", exc)
        return
    if failures >= limit:
        message = "Too many failed authentication attempts; try again later."
        raise ApiError(429, message, headers={"Retry-After": str(window)})


def _count_failure(client: str) -> None:
    _, window = _window()
    key = FAIL_KEY.format(client=client)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        pipe.execute()
    except RedisError as exc:
        log.warning("auth failure not counted: Redis unreachable (%s)", exc)
