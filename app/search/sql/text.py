"""Text tests on keyword values: prefixes, Lucene wildcards and ranges, index-friendly.

Every test restricts the value to a code-point range first (a prefix ``p`` is
``p <= value < successor(p)``), which the postings' primary key serves on both
databases; a wildcard then filters that range with GLOB (SQLite, case-sensitive,
unlike its LIKE) or LIKE (PostgreSQL). Values are stored lower-cased, so patterns are
lower-cased by the caller and compared exactly.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, true

from app.search.sql.probe import Condition
from app.search.sql.values import storable

_MAX = 0x10FFFF
_TOKENS = re.compile(r"(\\.?)|([*?])|([^\\*?]+)", re.DOTALL)


def successor(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound)."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored: skip past them
            code = 0xE000
        if code <= _MAX:
            return "".join(chars) + chr(code)
    return None


def wildcard_parts(pattern: str) -> list[tuple[str, str]]:
    """``pattern`` as ("lit", text), ("any", "*") and ("one", "?") parts; ``\\`` escapes."""
    parts: list[tuple[str, str]] = []
    for escaped, wild, plain in _TOKENS.findall(pattern):
        if escaped:
            parts.append(("lit", escaped[1:] or "\\"))
        elif wild:
            parts.append(("any" if wild == "*" else "one", wild))
        else:
            parts.append(("lit", plain))
    return parts


class TextTests:
    """Conditions on a keyword column for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def prefix(self, prefix: str) -> Condition:
        """Values that start with ``prefix``."""
        low = storable(prefix)
        high = successor(low)
        return lambda column: column >= low if high is None else and_(column >= low, column < high)

    def wildcard(self, pattern: str) -> Condition:
        """Values matching the whole Lucene wildcard ``pattern``."""
        parts = wildcard_parts(pattern)
        if all(kind == "lit" for kind, _ in parts):
            whole = storable("".join(text for _, text in parts))
            return lambda column: column == whole
        lead = []
        for kind, text in parts:
            if kind != "lit":
                break
            lead.append(text)
        within = self.prefix("".join(lead)) if lead else (lambda column: true())
        if self.postgres:
            like = "".join(_like(kind, text) for kind, text in parts)
            return lambda column: and_(within(column), column.like(like, escape="\\"))
        glob = "".join(_glob(kind, text) for kind, text in parts)
        return lambda column: and_(within(column), column.op("GLOB")(glob))

    def between(
        self, low: str | None, high: str | None, include_low: bool, include_high: bool
    ) -> Condition:
        """Values in the range; None is an open end."""

        def test(column: ColumnElement) -> ColumnElement[bool]:
            limits = []
            if low is not None:
                limits.append(column >= low if include_low else column > low)
            if high is not None:
                limits.append(column <= high if include_high else column < high)
            return and_(*limits) if limits else column.is_not(None)

        return test


def _like(kind: str, text: str) -> str:
    if kind == "any":
        return "%"
    if kind == "one":
        return "_"
    return re.sub(r"([\\%_])", r"\\\1", storable(text))


def _glob(kind: str, text: str) -> str:
    if kind == "any":
        return "*"
    if kind == "one":
        return "?"
    return re.sub(r"([*?\[])", r"[\1]", storable(text))
