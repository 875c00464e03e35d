"""Text every database column can hold: NUL and lone surrogates escaped, losslessly and visibly.

PostgreSQL's text cannot hold U+0000, and neither database driver can encode a lone
surrogate (U+D800 to U+DFFF) as UTF-8. Both reach the log from outside: a receiver's
body with NUL bytes or invalid UTF-8 (the HTTP sink decodes bodies with
``surrogateescape``, so each undecodable byte is a surrogate U+DC80 to U+DCFF), or an
error message that quotes one. ``storable`` turns such text into a marked, escaped
form that ``unescape`` turns back into exactly the text it was given:

- the form starts with ``MARKER``, so the dashboard and the trace show that it is escaped;
- ``\\xNN`` is the byte NN (NUL, or an undecodable byte), ``\\uNNNN`` and
  ``\\UNNNNNNNN`` a code point (a lone surrogate; in ASCII form, any non-ASCII character),
  and ``\\\\`` a backslash; every other character stands for itself.

Text that needs no escaping is stored as it is, unless it starts with ``MARKER``
itself, which is escaped too so the two forms can never be confused.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MARKER = "[escaped] "
_UNSAFE = re.compile(r"[\\\x00\ud800-\udfff]")  # what storable() escapes
_NON_ASCII = re.compile(r"[\\\x00\x80-\U0010ffff]")  # what the ASCII form escapes
_NON_ASCII_ONLY = re.compile(r"[\x80-\U0010ffff]")  # what ascii_json() escapes
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def clean(text: str) -> bool:
    """Whether ``text`` has no NUL and no lone surrogate: every database can store it as is."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str) -> str:
    """``text`` as it is if every database can store it, else its marked, escaped form."""
    if clean(text) and not text.startswith(MARKER):
        return text
    return MARKER + _UNSAFE.sub(_escape_one, text)


def ascii_storable(text: str) -> str:
    """``text`` in plain ASCII: as it is if it already is, else marked and escaped.

    The last resort of a row that failed even after ``storable``: no database
    encoding can refuse it.
    """
    if text.isascii() and "\x00" not in text and not text.startswith(MARKER):
        return text
    return MARKER + _NON_ASCII.sub(_escape_one, text)


def unescape(stored: str) -> str:
    """The text that ``storable`` or ``ascii_storable`` was given."""
    if not stored.startswith(MARKER):
        return stored
    return _ESCAPE.sub(_unescape_one, stored[len(MARKER) :])


def raw_bytes(stored: str) -> bytes:
    """The bytes of a stored response body, exactly as the receiver sent them."""
    return unescape(stored).encode("utf-8", "surrogateescape")


def storable_json(value: Any) -> str:
    """``value`` as compact JSON text any database can store, which ``json.loads`` reads
    back equal.

    Readable UTF-8 when it can be: orjson writes it, a twentieth of ``json``'s time per
    log row, and its output is always valid UTF-8 with NUL written ``\\u0000``. What
    orjson refuses (a lone surrogate, an integer past 64 bits) goes through ``json``,
    and a lone surrogate leaves it as ``\\uD800`` in the ASCII form.
    """
    try:
        return orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text if clean(text) else json.dumps(value, separators=(",", ":"))


def ascii_json(text: str | None) -> str | None:
    """JSON text in plain ASCII: the same value, each non-ASCII character a ``\\u`` escape.

    Outside its strings JSON is ASCII, so every such character is inside one, where
    the escape means the same character (a pair of them beyond U+FFFF).
    """
    if text is None or text.isascii():
        return text
    return _NON_ASCII_ONLY.sub(_json_escape_one, text)


def storable_keys(value: Any) -> Any:
    """``value`` with every object key, at any depth, in its storable form.

    For search documents, whose keys become the index's field names (its values it
    makes storable itself). It copies every object and array, so callers use it
    only on a payload they know to need it.
    """
    if isinstance(value, dict):
        return {
            storable(key) if isinstance(key, str) else key: storable_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [storable_keys(item) for item in value]
    return value


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code == 0:
        return "\\x00"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _unescape_one(match: re.Match[str]) -> str:
    token = match.group(1)
    if token == "\\":
        return "\\"
    code = int(token[1:], 16)
    if token[0] == "x" and code >= 0x80:
        return chr(0xDC00 + code)
    return chr(code) if code <= 0x10FFFF else match.group()  # never written by _escape_one
