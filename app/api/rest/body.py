"""The one place a REST request's JSON body is parsed, within limits, before any model sees it.

Refused with 415: a body that is not declared JSON. With 400, saying why:
- bytes that are not UTF-8, or text that is not JSON (RFC 8259: ``NaN``, ``Infinity``
  and numbers beyond a double, such as ``1e400``, are not JSON numbers);
- nesting deeper than ``API_MAX_JSON_DEPTH`` levels, measured on the text before it is
  parsed, so a 100,000-deep document costs one linear scan and never a RecursionError;
- integers longer than Python's 4,300 digits;
- text (keys included) holding NUL or lone surrogates, which no database can store.
Bodies beyond ``MAX_CONTENT_LENGTH`` are a 413 before any of this.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from flask import current_app, request

from app.api.rest.errors import ApiError
from app.db import values

# A JSON string, escapes included, or an unterminated one up to the end of the text. Every
# quote starts a match that always succeeds, so the scan is linear even on hostile input.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_body() -> Any:
    """The request's JSON document, or an ApiError (415, 400) that says what is wrong with it."""
    if not request.is_json:
        raise ApiError(415, "Send the body as JSON, with Content-Type: application/json.")
    try:
        text = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "The request body is not UTF-8: %1", [str(exc)]) from None
    limit = current_app.config["API_MAX_JSON_DEPTH"]
    if nesting(text) > limit:
        raise ApiError(400, "The request body is nested deeper than %1 levels.", [limit])
    try:
        document = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except ValueError as exc:  # JSONDecodeError, an overlong integer, _not_json, _finite
        raise ApiError(400, "The request body is not valid JSON: %1", [str(exc)]) from None
    refuse_unstorable(document)
    return document


def nesting(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest (0 for a scalar), brackets in
    strings aside. Measured on malformed text too; the parser then says what is wrong."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def refuse_unstorable(document: Any) -> None:
    """Raise a 400 naming the first text in ``document`` that holds NUL or a lone surrogate."""
    pending: list[tuple[str, Any]] = [("(body)", document)]
    while pending:  # a loop, not recursion: the depth is bounded, but stay cheap and flat
        where, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                pending += [(f"{where} key", key), (f"{where}.{key}", item)]
        elif isinstance(value, list):
            pending += [(f"{where}[{i}]", item) for i, item in enumerate(value)]
        elif isinstance(value, str):
            problem = values.unstorable(value)
            if problem is not None:
                where = where.removeprefix("(body).")
                raise ApiError(400, "Text may not contain %1 characters: %2", [problem, where])


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"{literal[:40]} does not fit a double")
    return number
