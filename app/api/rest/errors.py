"""REST errors in Magento's shape, ``{"message": ..., "parameters": ...}``, for every status."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.search.backend import SearchUnavailable


class ApiError(Exception):
    """An error a view raises to answer with ``status``.

    ``message`` may hold Magento placeholders (``%1``) filled from ``parameters``,
    as the original's error bodies do.
    """

    def __init__(
        self,
        status: int,
        message: str,
        parameters: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = [] if parameters is None else parameters
        self.headers = headers or {}


def error_response(status: int, message: str, parameters: Any = None) -> Response:
    """The JSON error body with its status."""
    response = jsonify(message=message, parameters=[] if parameters is None else parameters)
    response.status_code = status
    return response


def register(app: Flask, prefix: str) -> None:
    """Answer every error under ``prefix`` in Magento's shape, never as an HTML page.

    Exceptions no view handled go to ``app.api.last_resort``, which answers in this shape too.
    """
    from flask import request

    def handle_api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.message, exc.parameters)
        response.headers.update(exc.headers)
        return response

    def handle_http(exc: HTTPException) -> Response | HTTPException:
        if not request.path.startswith(prefix):
            return exc
        response = error_response(exc.code or 500, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    def handle_search_down(exc: Exception) -> Response:
        return error_response(503, f"The search backend is unreachable: {exc}")

    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(SearchUnavailable, handle_search_down)
    app.register_error_handler(HTTPException, handle_http)
