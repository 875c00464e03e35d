"""Documents: a delivery log row as the searchable leaves of the search contract."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.search.backend import LogDocument


@dataclass(frozen=True)
class Leaf:
    """One searchable value: ``keyword`` is lower-cased text, ``number`` a finite float.

    A string that parses as a finite number yields one leaf with both set; a
    boolean is the keyword ``true``/``false``; a number has only ``number``.
    """

    field: str
    keyword: str | None
    number: float | None


def decode(serialized: str | None) -> Any:
    """The stored payload as JSON, or None if it is absent or not JSON."""
    if not serialized:
        return None
    try:
        return json.loads(serialized)
    except ValueError:
        return None


def as_number(value: str) -> float | None:
    """The finite float a string spells (like Java's Double.parseDouble), else None."""
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def leaves(doc: LogDocument) -> Iterator[Leaf]:
    """Every leaf of ``doc``: top fields, then ``data.*`` paths; arrays flatten, nulls vanish."""
    top = {
        "log_id": doc.log_id,
        "subscription_id": doc.subscription_id,
        "uuid": doc.uuid,
        "event_name": doc.event_name,
        "response_data": doc.response_data,
        "created": doc.created,
        "success": doc.success,
        "data": doc.data,
    }
    yield from _walk("", top)


def _walk(path: str, value: Any) -> Iterator[Leaf]:
    if value is None:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(f"{path}.{key}" if path else str(key), item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(path, item)
    elif isinstance(value, bool):
        yield Leaf(path, "true" if value else "false", None)
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a double: Lucene could not index it either
            return
        if math.isfinite(number):
            yield Leaf(path, None, number)
    else:
        text = str(value)
        yield Leaf(path, text.lower(), as_number(text))
