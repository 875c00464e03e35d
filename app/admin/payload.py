"""Untrusted JSON payloads as pretty-printed, highlighted HTML in which every string is escaped.

Payloads come from whoever publishes events, so nothing of theirs reaches the page
unescaped: keys and strings go through ``json.dumps`` (which quotes them) and then
``markupsafe.escape``; only our own ``<span class="json-…">`` wrappers are markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from markupsafe import Markup, escape

INDENT = "    "  # four spaces, as PHP's JSON_PRETTY_PRINT in the original's trace page


def highlight(value: Any) -> Markup:
    """``value`` as indented JSON with spans for keys, strings, numbers and literals."""
    if isinstance(value, str):
        return Markup(escape(value))  # stored text that was not JSON: shown as it is
    try:
        return Markup("".join(_tokens(value, 0)))
    except RecursionError:  # absurdly deep nesting: plain escaped text, still readable
        return Markup(escape(json.dumps(value, indent=4, ensure_ascii=False)))


def _tokens(value: Any, depth: int) -> Iterator[str]:
    if isinstance(value, dict):
        yield from _container("{", "}", [(k, v) for k, v in value.items()], depth)
    elif isinstance(value, list):
        yield from _container("[", "]", [(None, v) for v in value], depth)
    elif isinstance(value, str):
        yield _span("string", json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool):
        yield _span("literal", json.dumps(value))
    elif isinstance(value, int | float):
        yield _span("number", json.dumps(value))
    else:
        yield str(escape(str(value)))


def _container(
    opening: str, closing: str, items: list[tuple[Any, Any]], depth: int
) -> Iterator[str]:
    if not items:
        yield opening + closing
        return
    yield opening + "\n"
    pad = INDENT * (depth + 1)
    for index, (key, item) in enumerate(items):
        yield pad
        if key is not None:
            yield _span("key", json.dumps(str(key), ensure_ascii=False)) + ": "
        yield from _tokens(item, depth + 1)
        yield ",\n" if index < len(items) - 1 else "\n"
    yield INDENT * depth + closing


def _span(kind: str, text: str) -> str:
    return f'<span class="json-{kind}">{escape(text)}</span>'
