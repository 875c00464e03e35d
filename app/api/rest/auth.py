"""Bearer-token authentication, permission checks, and throttling of failed attempts."""

from __future__ import annotations

from flask import current_app, g, request

from app.api.rest.errors import ApiError
from app.usecases import access
from app.usecases.throttle import Throttle

DENIED = "The consumer isn't authorized to access %resources."  # the original's words


def require(permission: str | None) -> None:
    """Authenticate the bearer token and check ``permission`` (``manage`` grants all).

    401 for a missing or unknown token, 403 for a token without the permission,
    429 once a client has failed too often within the window.
    """
    if permission is None:
        return
    client = request.remote_addr or "unknown"
    throttle = _throttle()
    if throttle.blocked(client):
        message = "Too many failed authentication attempts; try again later."
        raise ApiError(429, message, headers={"Retry-After": str(throttle.retry_after(client))})
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = access.find_token(token.strip()) if scheme.lower() == "bearer" and token else None
    if row is None:
        throttle.fail(client)
        raise ApiError(401, DENIED, {"resources": permission})
    if not access.allows(set(row.permissions.split()), permission):
        raise ApiError(403, DENIED, {"resources": permission})
    access.mark_used(row)
    g.api_token = row


def _throttle() -> Throttle:
    config = current_app.config
    return Throttle("auth", config["API_AUTH_FAILURE_LIMIT"], config["API_AUTH_FAILURE_WINDOW"])
