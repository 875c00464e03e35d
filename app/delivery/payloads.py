"""Payloads that can be stored and delivered faithfully: checked before they are accepted.

JSON text, UTF-8 on the wire and the databases' text columns all have limits that
Python's ``json`` does not enforce. A value past one of them was once accepted and
failed later, in the recorder or the fan-out, for every delivery batched with it.
``encode`` refuses it up front instead, naming where it is:

- a string or key holding a lone surrogate (U+D800 to U+DFFF): UTF-8 cannot encode it;
- a string or key holding NUL (U+0000): PostgreSQL's text and jsonb cannot store it,
  and the REST API refuses it in any text (400), so ``publish()`` refuses it as well;
- NaN, Infinity or -Infinity: JSON has no such numbers;
- a value JSON has no type for (bytes, a set, an object);
- nesting deeper than ``max_depth`` objects and arrays (the top counts as one);
- more than ``max_bytes`` of compact UTF-8 JSON.

The rules are the same on SQLite and PostgreSQL: what one accepts, so does the other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

_CONTAINERS = (dict, list, tuple)
# Made once: json.dumps builds an encoder per call for any but its default options.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_JSON_NUL = "\\u0000"  # how the encoder writes NUL (or a backslash before "u0000")


class PayloadError(ValueError):
    """A payload that JSON, UTF-8 or a configured limit cannot carry; says where and why."""


def encode(value: Any, max_depth: int, max_bytes: int, name: str = "arguments") -> str:
    """``value`` as compact JSON text once it is proven deliverable; PayloadError otherwise.

    ``name`` begins the path in messages (``arguments.items[3].price``). The text
    keeps non-ASCII characters as they are; it holds no lone surrogate and no NUL.
    """
    _check_depth(value, max_depth, name)
    try:
        text = _ENCODER.encode(value)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise PayloadError(_explain(value, name) or f"{name}: not JSON: {exc}") from None
    except RecursionError:  # deep inside a container type the depth check does not know
        raise PayloadError(f"{name}: nested too deeply to encode as JSON") from None
    if _JSON_NUL in text and (problem := _explain(value, name)) is not None:
        raise PayloadError(problem)
    if size > max_bytes:
        raise PayloadError(f"{name}: {size} bytes as JSON; the limit is {max_bytes}")
    return text


def _check_depth(value: Any, limit: int, name: str) -> None:
    """Refuse nesting deeper than ``limit``, level by level: no recursion, and a cycle
    is refused too."""
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise PayloadError(f"{name}: nested deeper than {limit} levels of objects and arrays")
        below = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, _CONTAINERS):
                    below.append(child)
        level = below


def _explain(value: Any, name: str) -> str | None:
    """What makes ``value`` undeliverable, and where; None if nothing is found."""
    for path, item in _walk(value, name):
        if isinstance(item, float) and not math.isfinite(item):
            shown = "NaN" if math.isnan(item) else ("Infinity" if item > 0 else "-Infinity")
            return f"{path} is {shown}, which JSON cannot carry; send a number or null"
        if isinstance(item, str) and "\x00" in item:
            return (
                f"{path} holds NUL (\\u0000), which PostgreSQL cannot store as text; "
                "remove it, or encode the value (base64, say)"
            )
        if isinstance(item, str) and _has_lone_surrogate(item):
            return (
                f"{path} holds a lone surrogate ({_first_surrogate(item)}), which UTF-8 "
                "cannot encode; send the character itself or a valid surrogate pair"
            )
        if not isinstance(item, (*_CONTAINERS, str, int, float, bool, type(None))):
            return f"{path} is a {type(item).__name__}, which JSON has no type for"
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every value and key inside ``value`` with its path, depth first, keys before values."""
    stack = [(path, value)]
    while stack:
        path, item = stack.pop()
        yield path, item
        if isinstance(item, dict):
            for key, child in reversed(item.items()):
                label = key if isinstance(key, str) else repr(key)
                yield f"{path} key '{_short(label)}'", key
                stack.append((f"{path}.{_short(label)}", child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", child) for i, child in reversed(list(enumerate(item))))


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_surrogate(text: str) -> str:
    return next(f"\\u{ord(c):04x}" for c in text if 0xD800 <= ord(c) <= 0xDFFF)


def _short(text: str, limit: int = 40) -> str:
    """A key as it appears in a path: escaped like a Python string, and cut to ``limit``."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
