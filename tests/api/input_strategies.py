"""Hostile input as hypothesis strategies: what made routes answer 500 before, and its relatives.

Shared by the property tests (``tests/api/test_input_fuzz.py``) and schemathesis' hooks
(``tests/api/input_hooks.py``): nesting far past the limit, integers beyond 64 bits, Unicode
digits, NUL and lone surrogates, huge strings, JSON that is not JSON, and Magento
``searchCriteria`` query strings built from their grammar with hostile parts.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

BOUNDARY_INTS = [
    2**15 - 1,
    2**15,
    2**16,
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    -(10**30),
    10**4000,  # 4,001 digits: under Python's 4,300-digit limit on int/str conversions
]
TEXTS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "²",
    "\u0661\u0662",  # Arabic-Indic 12
    "\uff19",
    "\U0001d7d8",
    "-0",
    "+1",
    " 7 ",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "9" * 40,
    "9" * 5000,  # beyond the int/str limit: int() raises ValueError
    "1e400",
    "NaN",
    "Infinity",
    "%",
    "_",
    "%_%",
    "\\",
    "'",
    '"',
    "[",
    "]",
    "2026-13-45",
    "2026-01-31",
    "2026-01-31T13:45:00+14:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "true",
    "null",
    "\ufffd",
    "\u202e",
    "x" * 2000,
]
HUGE_TEXT = "x" * 100_000  # past the 64 KiB query-string limit and any column
HOSTILE_CHARS = st.characters(categories=["Cs", "Cc", "Nd", "No", "Zs", "Po", "Lu"])


def texts() -> st.SearchStrategy[str]:
    """Strings from the hostile list, random ones with hostile characters, or a huge one."""
    return st.one_of(
        st.sampled_from([*TEXTS, HUGE_TEXT]),
        st.text(HOSTILE_CHARS, max_size=12),
        st.text(max_size=12),
    )


def integers() -> st.SearchStrategy[int]:
    """Integers around every column's limits and far beyond, and ordinary ones."""
    return st.one_of(st.sampled_from(BOUNDARY_INTS), st.integers(), st.integers(-3, 3))


def numbers_as_text() -> st.SearchStrategy[str]:
    """What a query string's number might hold: digits of any size, or something else."""
    return st.one_of(integers().map(str), st.sampled_from(TEXTS))


def cursors() -> st.SearchStrategy[str]:
    """Search cursors as the service writes them (``before:<log id>``), with any number."""
    encode = base64.urlsafe_b64encode
    numbers = st.one_of(st.sampled_from(BOUNDARY_INTS).map(str), numbers_as_text())
    return numbers.map(
        lambda n: encode(f"before:{n}".encode("utf-8", "surrogatepass")).decode().rstrip("=")
    )


def json_values() -> st.SearchStrategy[Any]:
    """JSON values whose leaves are hostile, nested a little."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        texts(),
    )
    keys = st.one_of(st.sampled_from(TEXTS[:12]), st.text(max_size=8))
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=10,
    )


def nested(depth: int, kind: str) -> str:
    """JSON text nested ``depth`` levels deep, built as text: no encoder recursion needed."""
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return '[{"a":' * (depth // 2) + "[]" + "}]" * (depth // 2)


def refused_fragments() -> st.SearchStrategy[str]:
    """JSON text that makes any body refused, wherever it stands: nesting past the limit of
    64 levels, literals that are not JSON, escapes of text no database stores."""
    return st.one_of(
        st.builds(nested, st.integers(65, 5000), st.sampled_from(["array", "object", "mixed"])),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000]),
        st.sampled_from(['"\\ud800"', '"a\\u0000b"', '"\\udfff\\ud800"', "01", "[1,]", '"']),
    )


def fragments() -> st.SearchStrategy[str]:
    """JSON text for one value: hostile values, shallow or far too deep, or not JSON at all."""
    return st.one_of(
        json_values().map(json.dumps),  # ensure_ascii: lone surrogates become \\ud800 escapes
        st.builds(nested, st.integers(55, 75), st.sampled_from(["array", "object"])),
        refused_fragments(),
    )


RAW_BODIES = [
    b"",
    b"null",
    b"\xff\xfe{}",
    b'{"a":"\xed\xa0\x80"}',
    b"\xef\xbb\xbf{}",
    b'{"a"',
    b'"' + b'\\"' * 20_000,  # an unterminated string of escaped quotes: the depth scan is linear
    b"[" * 100_000,
    b'{"a":' * 50_000,
]


def leaf_paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in ``document``, the document itself included."""
    paths = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            paths += leaf_paths(value, (*prefix, key))
    return paths


def with_fragment(template: dict[str, Any], path: tuple[Any, ...], fragment: str) -> bytes:
    """``template`` as JSON bytes, with the value at ``path`` replaced by the text ``fragment``."""
    if not path:
        return fragment.encode()
    marker = "\x01MARK\x01"
    text = json.dumps(with_value(template, path, marker))
    return text.replace(json.dumps(marker), fragment).encode()


def with_value(template: dict[str, Any], path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``template`` with the value at ``path`` replaced by ``value``."""
    if not path:
        return value
    document = json.loads(json.dumps(template))
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


def bodies(template: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Bodies for an operation whose valid body looks like ``template``: one part spoiled
    with a hostile fragment, or a hostile body outright."""
    paths = st.sampled_from(leaf_paths(template))
    spoiled = st.builds(with_fragment, st.just(template), paths, fragments())
    return st.one_of(spoiled, st.sampled_from(RAW_BODIES))


def refused_bodies(template: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Bodies every operation must refuse (with a 400): never valid JSON of a valid depth."""
    paths = st.sampled_from(leaf_paths(template))
    spoiled = st.builds(with_fragment, st.just(template), paths, refused_fragments())
    return st.one_of(spoiled, st.sampled_from(RAW_BODIES))


def spoiled_documents(template: dict[str, Any]) -> st.SearchStrategy[Any]:
    """``template`` with one part replaced by a hostile JSON value (a document, not bytes)."""
    paths = st.sampled_from(leaf_paths(template))
    return st.builds(with_value, st.just(template), paths, json_values())


def query_string(pairs: list[tuple[str, str]]) -> str:
    """Percent-encode ``pairs``; lone surrogates go out as their UTF-8-style bytes (%ED%A0%80),
    as a hostile client would send them."""
    return "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'))}={quote(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in pairs
    )
