"""Numbers: which query values are numeric, read as Java's Double.parseDouble reads them.

The oracle tests a query value with ``Double.parseDouble(text.trim())`` and treats only
finite results as numbers. Python's ``float`` differs at the edges (it accepts
``1_000`` and non-ASCII digits, refuses ``1d`` and ``0x1p3``), so backends read query
values with ``query_number``. Document values follow ``documents.as_number``, which
mirrors the flattening the oracle indexes (Python's ``float``).
"""

from __future__ import annotations

import math
import re

_DECIMAL = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_HEX = r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+"
_JAVA_DOUBLE = re.compile(rf"([+-]?)(?:(NaN|Infinity)|({_DECIMAL})|({_HEX}))[fFdD]?")


def query_number(text: str) -> float | None:
    """The finite number ``text`` spells for Java, else None."""
    match = _JAVA_DOUBLE.fullmatch(_java_trim(text))
    if match is None:
        return None
    sign, special, decimal, hexadecimal = match.groups()
    if special is not None:
        return None  # NaN and Infinity are never finite
    value = float(decimal) if decimal is not None else float.fromhex(hexadecimal)
    value = -value if sign == "-" else value
    return value if math.isfinite(value) else None


def _java_trim(text: str) -> str:
    # String.trim() drops every char up to U+0020 at both ends, control characters included.
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]
