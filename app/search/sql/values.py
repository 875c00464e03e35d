"""Stored forms: -0.0 kept apart, storable text, numeric strings, a document's leaves JSON.

Pure functions for ``leaves`` and ``write`` (bulk import calls them ~20 times a
row) and for ``match``, which must turn query values into the same stored form.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

# SQL compares -0.0 equal to 0.0; Lucene orders -0.0 just below 0.0. Storing (and
# querying) it as the largest negative double keeps it apart from 0.0.
NEGATIVE_ZERO = -5e-324


def stored_number(number: float) -> float:
    """The double stored for ``number``: itself, but -0.0 as ``NEGATIVE_ZERO``."""
    if number == 0.0 and math.copysign(1.0, number) < 0:
        return NEGATIVE_ZERO
    return number


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced, so every database accepts it."""
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    if _has_surrogate(text):
        text = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)
    return text.replace("\x00", "\ufffd")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def as_number(text: str) -> float | None:
    """``documents.as_number``, skipping ``float`` (and its exception) for plain words."""
    first = text[:1]
    if not (first.isdigit() or first.isspace() or first in "+-.iInN"):
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def leaves_json(keywords: dict[str, list[Any]], numbers: dict[str, list[Any]]) -> str:
    """The document row's JSON: ``{"k": {path: [keyword...]}, "n": {path: [number...]}}``.

    orjson writes it 5x faster than json; it refuses lone surrogates (possible in paths,
    which are not made storable), which json writes as escapes.
    """
    leaves = {"k": keywords, "n": numbers}
    try:
        return orjson.dumps(leaves).decode()
    except orjson.JSONEncodeError:
        return _encode(leaves)


# No cycle check: flatten builds the dicts, so they hold no cycles.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
