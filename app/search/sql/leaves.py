"""Leaf rows: a log row's leaves in the form the SQL index stores them, fast enough to bulk-load.

The same leaves as ``app.search.documents.leaves`` (tests check it), built without a
dataclass per leaf because import flattens ~20 leaves per row at >10,000 rows/s.
Storage limits: a keyword beyond ``documents.KEYWORD_LIMIT`` is not indexed (its number
still is, if it spells one), as Elasticsearch's ``ignore_above`` does with the same
limit; a leaf whose path is longer than ``PATH_LIMIT`` is not indexed. Values are stored
as ``values`` makes them.
"""

from __future__ import annotations

import math
from typing import Any

from app.search.backend import LogDocument
from app.search.documents import keyword_fits
from app.search.sql.values import as_number, storable, stored_number

PATH_LIMIT = 512
Values = dict[str, list[Any]]  # path -> distinct values in first-seen order


def flatten(doc: LogDocument) -> tuple[Values, Values]:
    """The keyword and number leaves of ``doc``, by path, deduplicated."""
    return flatten_fields(
        doc.log_id,
        doc.subscription_id,
        doc.uuid,
        doc.event_name,
        doc.response_data,
        doc.created,
        doc.success,
        doc.data,
    )


def flatten_fields(
    log_id: int,
    subscription_id: int,
    uuid: str | None,
    event_name: str,
    response_data: str,
    created: str,
    success: bool,
    data: Any,
) -> tuple[Values, Values]:
    """``flatten`` of a document given field by field (bulk import builds no LogDocument)."""
    keywords: Values = {}
    numbers: Values = {"log_id": [float(log_id)], "subscription_id": [float(subscription_id)]}
    top = {
        "uuid": uuid,
        "event_name": event_name,
        "response_data": response_data,
        "created": created,
        "success": success,
    }
    for key, value in top.items():
        _walk(key, value, keywords, numbers)
    if type(data) is dict:
        _walk_dict("data", data, keywords, numbers)
    else:
        _walk("data", data, keywords, numbers)
    for found in (keywords, numbers):  # arrays (and dotted keys) can repeat a value
        for path, values in found.items():
            if len(values) > 1:
                found[path] = list(dict.fromkeys(values))
    return keywords, numbers


def _walk_dict(prefix: str, obj: dict, keywords: Values, numbers: Values) -> None:
    """The items of an object; string leaves are inlined (the hot loop of bulk import)."""
    for key, value in obj.items():
        path = f"{prefix}.{key}"
        if type(value) is str:
            if len(path) <= PATH_LIMIT:
                keyword, number = _STRINGS.get(value) or _string_leaf(value)
                if keyword is not None:
                    keywords.setdefault(path, []).append(keyword)
                if number is not None:
                    numbers.setdefault(path, []).append(number)
        else:
            _walk(path, value, keywords, numbers)


def _walk(path: str, value: Any, keywords: Values, numbers: Values) -> None:
    """One value at ``path``; containers walk their items."""
    kind = type(value)
    if kind is dict:
        _walk_dict(path, value, keywords, numbers)
    elif kind is list:
        for item in value:
            _walk(path, item, keywords, numbers)
    elif len(path) > PATH_LIMIT or value is None:
        return
    elif kind is str:
        keyword, number = _STRINGS.get(value) or _string_leaf(value)
        if keyword is not None:
            keywords.setdefault(path, []).append(keyword)
        if number is not None:
            numbers.setdefault(path, []).append(number)
    elif kind is int or kind is float:
        _number(path, value, numbers)
    elif kind is bool:
        keywords.setdefault(path, []).append("true" if value else "false")
    else:
        _walk_other(path, value, keywords, numbers)


# String leaf -> (keyword, number). Payloads repeat most strings (event names,
# statuses, "1.0"...), so this per-process cache skips most lower()/float() work.
# Two generations: a full one becomes the old one, so repeated strings survive.
# Kept small: unique strings (every log's uuid) churn through it, and 100,000
# entries a generation grew a worker by ~60 MB over a soak for no extra hits.
_STRINGS: dict[str, tuple[str | None, float | None]] = {}
_OLDER: dict[str, tuple[str | None, float | None]] = {}
_STRINGS_LIMIT = 10_000


def _string_leaf(value: str) -> tuple[str | None, float | None]:
    """A string's keyword (None if too long to index) and number (None if it spells none).

    Called on a miss in ``_STRINGS``, which the callers look in first (inline, for speed).
    """
    global _STRINGS, _OLDER
    found = _OLDER.get(value)
    if found is None:
        keyword = storable(value.lower()) if keyword_fits(value) else None
        number = as_number(value)
        found = (keyword, None if number is None else stored_number(number))
    if len(_STRINGS) >= _STRINGS_LIMIT:
        _STRINGS, _OLDER = {}, _STRINGS
    _STRINGS[value] = found
    return found


def _number(path: str, value: float, numbers: Values) -> None:
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any double: no number leaf
        return
    if math.isfinite(number):
        numbers.setdefault(path, []).append(stored_number(number))


def _walk_other(path: str, value: Any, keywords: Values, numbers: Values) -> None:
    """Subclasses of the JSON types, and anything else (as its text), as documents does."""
    if isinstance(value, bool):
        _walk(path, bool(value), keywords, numbers)
    elif isinstance(value, int | float):
        _number(path, value, numbers)
    elif isinstance(value, dict):
        _walk(path, dict(value), keywords, numbers)
    elif isinstance(value, list):
        _walk(path, list(value), keywords, numbers)
    else:
        _walk(path, str(value), keywords, numbers)
