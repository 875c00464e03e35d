"""What every request must meet before a view runs, on every route, the dashboard's included.

- ``<int:…>`` path segments are ASCII digits that fit a signed 64-bit column (a larger
  id cannot exist, so it is a 404); a route over a 32-bit column narrows it further
  with ``<int(max=2147483647):…>``, and one whose view checks the range itself (to answer
  its own 404) lifts it with ``<int(max=None):…>``.
- The query string and the headers have a size limit (414 and 431 beyond).
- No path, query or form value may hold NUL, which PostgreSQL cannot store (400).

Refusals come in the route family's shape: JSON ``{"message", "parameters"}`` everywhere
but the dashboard (``/admin``), whose errors are HTML pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import default_exceptions
from werkzeug.routing import IntegerConverter, Map

from app.api.rest.errors import error_response
from app.db import values

DASHBOARD = "/admin"


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's ``int``, but ASCII digits only (``\\d`` takes any script's digits), and
    at most the largest BIGINT unless the rule says otherwise."""

    regex = r"[0-9]+"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", values.INT64[1])
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Install the converter and the checks; call before any route is registered."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(check_request)


def answer(status: int, message: str, parameters: Any = None) -> Response:
    """An error response in the shape of the family the current path belongs to."""
    if request.path.startswith(DASHBOARD):
        return default_exceptions[status](description=message).get_response()
    return error_response(status, message, parameters)


def check_request() -> Response | None:
    """None if the request is within the limits, else the refusal (a before_request hook)."""
    config = current_app.config
    size, limit = len(request.query_string), config["API_MAX_QUERY_BYTES"]
    if size > limit:
        return answer(414, f"The query string is {size} bytes; the limit is {limit}.")
    size = sum(len(k) + len(v) for k, v in request.headers.items())
    limit = config["API_MAX_HEADER_BYTES"]
    if size > limit:
        return answer(431, f"The headers are {size} bytes; the limit is {limit}.")
    for where, text in _texts():
        problem = values.unstorable(text)
        if problem is not None:
            return answer(400, f"The {where} may not contain {problem} characters.", [where])
    return None


def _texts() -> Iterable[tuple[str, str]]:
    """Every piece of text the request's URL and form carry, with where it came from."""
    yield "path", request.path
    for source, multi in (("query", request.args), ("form", request.form)):
        for key, items in multi.lists():
            yield f"{source} parameter name", key
            for item in items:
                yield f"{source} parameter {key[:100]!r}", item
