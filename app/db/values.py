"""Values from requests (text, whole numbers), checked before anything stores or binds them."""

from __future__ import annotations

import re

# PostgreSQL's text types cannot hold NUL, and no database can encode a lone surrogate
# (JSON's "\ud800" escape makes one); both would fail inside a query, as a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Whole numbers are ASCII digits: str.isdigit() also accepts "²", which int() refuses,
# and int() accepts "١٢" (Arabic-Indic digits), which nobody means as an id.
_WHOLE = re.compile(r"[+-]?[0-9]{1,30}")

INT32 = (-(2**31), 2**31 - 1)  # INTEGER on PostgreSQL
INT64 = (-(2**63), 2**63 - 1)  # BIGINT on PostgreSQL; every INTEGER on SQLite


def unstorable(text: str) -> str | None:
    """What in ``text`` no database can store (NUL, a lone surrogate), or None if nothing."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "NUL (\\u0000)" if found.group() == "\x00" else "lone surrogates (\\ud800-\\udfff)"


def whole(raw: str) -> int | None:
    """``raw`` as an integer if it is one written in ASCII digits (30 at most), else None."""
    return int(raw) if _WHOLE.fullmatch(raw.strip()) else None


def within(value: int, bounds: tuple[int, int]) -> bool:
    """Whether ``value`` fits ``bounds`` (inclusive), e.g. ``INT32`` for an INTEGER column."""
    return bounds[0] <= value <= bounds[1]
