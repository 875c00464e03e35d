"""The last resort for an exception no view handled: logged loudly, answered in the family's shape.

Input is checked where it enters (``boundary``, the REST body parser, each route's own
rules), so nothing here is the normal way to refuse a request. Two kinds still reach it:

- **Input that slipped past a check**: the database refused a value (``DataError``), a
  number did not fit a column (``OverflowError``), text could not be encoded
  (``UnicodeEncodeError``) or nesting ran out of stack (``RecursionError``). The client
  gets a 400, because its request caused it; the log gets an ERROR with the traceback,
  because the check that should have stopped it is missing. The fuzzing fails on it.
- **Everything else** is a server fault: a 500 with a reference that the ERROR log repeats.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from app.api.boundary import answer

INPUT_FAULTS: tuple[type[BaseException], ...] = (
    DataError,
    OverflowError,
    UnicodeEncodeError,
    RecursionError,
)
UNCHECKED = "input reached the code unchecked"  # the log line the fuzzing looks for


def init_app(app: Flask) -> None:
    """Handle every exception a view leaves unhandled, on every route."""
    app.register_error_handler(Exception, handle)


def handle(exc: Exception) -> Response | HTTPException:
    """The response for ``exc``; HTTP errors pass through to their own handlers."""
    if isinstance(exc, HTTPException):
        return exc
    reference = secrets.token_hex(6)
    where = f"{request.method} {request.path[:200]}"
    if isinstance(exc, INPUT_FAULTS):
        current_app.logger.error(
            "%s on %s (%s, reference %s): add the check that refuses it",
            UNCHECKED,
            where,
            type(exc).__name__,
            reference,
            exc_info=exc,
        )
        message = f"The request holds a value this service cannot process (reference {reference})."
        return answer(400, message, [reference])
    log = current_app.logger
    log.error("unexpected error on %s (reference %s)", where, reference, exc_info=exc)
    return answer(500, f"Internal error; it has been logged (reference {reference}).", [reference])
