"""The external index of delivery logs: names, settings, the explicit mapping, documents.

How the mapping implements the contract (shared/search/SEARCH.md), with ``query``:

- Strings are ``keyword`` with the built-in ``lowercase`` normalizer (Lucene's
  LowerCaseFilter, as the oracle), so terms, prefixes, wildcards and ranges match the
  whole value case-insensitively. Booleans are sent as the strings ``true``/``false``:
  the contract makes them keywords.
- A field has one type per index, so one name cannot be both a keyword and a number,
  and ``query_string`` on ``f`` never reads a multi-field. Every leaf therefore carries
  a ``num`` multi-field (``double``, ``ignore_malformed``): numbers, and strings that
  parse as numbers, are numbers there; ``query`` sends numeric terms and numeric
  ranges to ``f.num``. JSON numbers are ``double`` (never truncated to ``long``), so a
  wildcard never matches a number.
- ``created`` is a ``date`` (for tools and aggregations) with a ``keyword`` multi-field
  that queries use: the contract compares ``yyyy-MM-dd HH:mm:ss`` text, whose order is
  time order, against bounds that ``datemath`` resolves as Elasticsearch would.
- ``date_detection`` is off, so a payload string that looks like a date stays a keyword.
- Concrete indices are hidden: the search pattern reaches them only through their
  alias, so an index being rebuilt never shows twice.

Known limits against the contract:
- Within one index a path keeps the type of its first value: after a number, a
  non-numeric string at that path is kept in ``_source`` but not searchable; after a
  string, a number's text also matches wildcards and string ranges.
- A path that is an object in one document and a value in another is rejected by
  Elasticsearch: that row stays in the outbox with the error (see ``outbox``).
- Keywords over ``KEYWORD_LIMIT`` characters (``ignore_above``) are not indexed: the
  SQL index's limit (``documents.KEYWORD_LIMIT``, set by PostgreSQL), so that both
  backends answer alike, where Lucene's own term limit would allow 8191.
- ``num`` reads strings as Java's Double.parseDouble, documents as Python's ``float``:
  they disagree on rare spellings (``1_000``, ``5d``, ``0x1p3``).
- Beyond ``FIELD_LIMIT`` distinct paths per index, new paths are not searchable
  (Elasticsearch 8.13 and later); older engines reject such a document instead.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from typing import Any

from app.search.backend import LogDocument
from app.search.documents import KEYWORD_LIMIT
from app.search.external.engines import Engine

FIELD_LIMIT = 5000
CREATED_FORMAT = "yyyy-MM-dd HH:mm:ss"
_NUMBER: dict[str, Any] = {"type": "double", "ignore_malformed": True}
_KEYWORD: dict[str, Any] = {"type": "keyword", "normalizer": "lowercase"}
_STRING: dict[str, Any] = {**_KEYWORD, "ignore_above": KEYWORD_LIMIT, "fields": {"num": _NUMBER}}
_NUMERIC: dict[str, Any] = {**_NUMBER, "fields": {"num": _NUMBER}}


def alias_name(prefix: str, event_name: str) -> str:
    """The alias that always names an event's live index (index names are lower-case)."""
    return f"{prefix}_async_event_{event_name.lower()}"


def version_name(prefix: str, event_name: str, version: int) -> str:
    """The concrete index of one build: ``{alias}_v{version}``."""
    return f"{alias_name(prefix, event_name)}_v{version}"


def search_pattern(prefix: str) -> str:
    """What searches span: every event's alias (concrete indices are hidden)."""
    return f"{prefix}_async_event_*"


def parse_version(prefix: str, index: str) -> tuple[str, int] | None:
    """``(event key, version)`` of a concrete index name, or None if it is not one of ours."""
    match = re.fullmatch(rf"{re.escape(prefix)}_async_event_(.+)_v([0-9]+)", index)
    return (match.group(1), int(match.group(2))) if match else None


def index_settings(engine: Engine) -> dict[str, Any]:
    """Settings of every concrete index, as far as ``engine`` knows them (see ``engines``)."""
    total_fields: dict[str, Any] = {"limit": FIELD_LIMIT}
    if engine.drops_fields_beyond_limit:
        total_fields["ignore_dynamic_beyond_limit"] = True
    return {
        "index": {
            "hidden": True,
            "number_of_shards": 1,
            "mapping": {"total_fields": total_fields, "depth": {"limit": 50}},
        }
    }


def mappings() -> dict[str, Any]:
    """The explicit mapping: fixed top fields, dynamic templates for payload leaves."""
    return {
        "dynamic": True,
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": [
            {"strings": {"match_mapping_type": "string", "mapping": _STRING}},
            {"integers": {"match_mapping_type": "long", "mapping": _NUMERIC}},
            {"decimals": {"match_mapping_type": "double", "mapping": _NUMERIC}},
        ],
        "properties": {
            "log_id": {"type": "long", "fields": {"num": _NUMBER}},
            "subscription_id": {"type": "long", "fields": {"num": _NUMBER}},
            "uuid": _STRING,
            "event_name": _STRING,
            "success": _KEYWORD,
            "response_data": _STRING,
            "created": {"type": "date", "format": CREATED_FORMAT, "fields": {"keyword": _KEYWORD}},
        },
    }


def document(doc: LogDocument) -> dict[str, Any]:
    """The JSON sent for one log row: the contract's fields, values made safe to index."""
    return {key: _value(value) for key, value in dataclasses.asdict(doc).items()}


def bulk_actions(targets: Iterable[tuple[str, int, LogDocument | None]]) -> list[dict[str, Any]]:
    """Bulk actions for ``(index, log_id, document)``: index under ``_id`` = log_id, or
    delete that id when the document is None (its log row is gone)."""
    actions: list[dict[str, Any]] = []
    for index, log_id, doc in targets:
        target = {"_index": index, "_id": str(log_id)}
        if doc is None:
            actions.append({"delete": target})
        else:
            actions += [{"index": target}, document(doc)]
    return actions


def _value(value: Any) -> Any:
    # Booleans are keywords in the contract; NaN and infinities are not JSON and not indexed.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_value(item) for item in value]
    return value
