"""What the fake Elasticsearch demands of our requests, written down independently of the app.

Each check returns the violations it finds (empty: the request is as intended). The
expectations restate the search contract (shared/search/SEARCH.md) and the issue's
design in their own words, so a change to ``app/search/es_*.py`` that breaks them is
caught here rather than agreed with.
"""

from __future__ import annotations

import re
from typing import Any

from app.search.documents import KEYWORD_LIMIT

DOC_FIELDS = {
    "log_id",
    "subscription_id",
    "uuid",
    "event_name",
    "success",
    "created",
    "response_data",
    "data",
}
BARE_FIELDS = [
    "log_id",
    "subscription_id",
    "uuid",
    "event_name",
    "success",
    "response_data",
    "created.keyword",
    "data",
    "data.*",
    "*.num",
]
QUERY_STRING_OPTIONS = {
    "fields": BARE_FIELDS,
    "default_operator": "OR",
    "allow_leading_wildcard": True,
    "analyze_wildcard": False,
    "lenient": True,
}
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_NUM = {"type": "double", "ignore_malformed": True}
# Strings: whole values, lower-cased, no longer than the SQL index keeps (same results).
_STRING = {"type": "keyword", "normalizer": "lowercase", "ignore_above": KEYWORD_LIMIT}


def index_name(name: str, prefix: str) -> tuple[str, int] | None:
    """``(key, version)`` if ``name`` is ``{prefix}_async_event_{key}_v{N}``, key lower-case."""
    match = re.fullmatch(rf"{re.escape(prefix)}_async_event_(.+)_v([1-9][0-9]*)", name)
    if match is None or match.group(1) != match.group(1).lower():
        return None
    return match.group(1), int(match.group(2))


def index_body(body: dict[str, Any]) -> list[str]:
    """An index creation: hidden, our mapping for the top fields and the payload leaves."""
    problems = []
    if body.get("settings", {}).get("index", {}).get("hidden") is not True:
        problems.append("concrete indices must be hidden (searches reach them via aliases)")
    mappings = body.get("mappings", {})
    if mappings.get("date_detection") is not False:
        problems.append("date_detection must be off: date-like payload strings are keywords")
    props = mappings.get("properties", {})
    for name in ("log_id", "subscription_id"):
        _expect(problems, props, name, {"type": "long", "fields": {"num": _NUM}})
    for name in ("uuid", "event_name", "response_data"):
        _expect(problems, props, name, _STRING)
        _expect(problems, props.get(name, {}).get("fields", {}), "num", _NUM)
    _expect(problems, props, "success", {"type": "keyword", "normalizer": "lowercase"})
    created = {"type": "date", "format": "yyyy-MM-dd HH:mm:ss"}
    _expect(problems, props, "created", created)
    keyword = {"type": "keyword", "normalizer": "lowercase"}
    _expect(problems, props.get("created", {}).get("fields", {}), "keyword", keyword)
    templates = {}
    for entry in mappings.get("dynamic_templates", []):
        ((_, template),) = entry.items()
        templates[template.get("match_mapping_type")] = template.get("mapping", {})
    _expect(problems, templates, "string", _STRING)
    _expect(problems, templates.get("string", {}).get("fields", {}), "num", _NUM)
    for json_type in ("long", "double"):
        _expect(problems, templates, json_type, {**_NUM, "fields": {"num": _NUM}})
    return problems


def _expect(problems: list[str], found: dict[str, Any], name: str, wanted: dict) -> None:
    actual = found.get(name, {})
    wrong = {k: actual.get(k) for k, v in wanted.items() if actual.get(k) != v}
    if wrong:
        problems.append(f"mapping of {name!r}: wanted {wanted}, got {wrong}")


def document(doc_id: str, source: Any, key: str) -> list[str]:
    """One bulk document: exactly the contract's fields, ``_id`` = log_id, the right index."""
    if not isinstance(source, dict):
        return [f"document {doc_id} is not an object"]
    problems = []
    if set(source) != DOC_FIELDS:
        problems.append(f"document {doc_id} has fields {sorted(source)}")
    if doc_id != str(source.get("log_id")):
        problems.append(f"_id {doc_id} is not the log_id {source.get('log_id')}")
    if str(source.get("event_name", "")).lower() != key:
        problems.append(f"log {doc_id} of {source.get('event_name')!r} sent to index of {key!r}")
    if source.get("success") not in ("true", "false"):
        problems.append(f"log {doc_id}: success must be the keyword true/false")
    if not _CREATED.fullmatch(str(source.get("created"))):
        problems.append(f"log {doc_id}: created {source.get('created')!r} not yyyy-MM-dd HH:mm:ss")
    return problems


def search_body(body: dict[str, Any]) -> list[str]:
    """A search with a timeout: a page (query_string as intended, newest first,
    search_after paging, ids only) or a count (no hits, every match counted)."""
    problems = _query(body.get("query"))
    if "timeout" not in body:
        problems.append("every search carries a timeout, so the cluster stops when we give up")
    elif time_value(body["timeout"]) is None:
        problems.append(f"timeout {body['timeout']!r} is not a time value Elasticsearch parses")
    if body.get("size") == 0:
        if set(body) != {"query", "size", "track_total_hits", "timeout"}:
            problems.append(f"count body keys {sorted(body)}")
        if body.get("track_total_hits") is not True:
            problems.append("a count (size 0) must track total hits exactly")
        return problems
    expected = {"query", "sort", "size", "_source", "track_total_hits", "timeout"}
    if set(body) - {"search_after"} != expected:
        problems.append(f"search body keys {sorted(body)}")
    if body.get("sort") != [{"log_id": {"order": "desc"}}]:
        problems.append(f"sort {body.get('sort')} is not log_id descending")
    if body.get("_source") is not False or body.get("track_total_hits") is not False:
        problems.append("searches fetch no _source and count no totals")
    size = body.get("size")
    if not isinstance(size, int) or not 0 < size <= 10000:
        problems.append(f"size {size!r} outside 1..10000 (page with search_after)")
    after = body.get("search_after", [0])
    if not (isinstance(after, list) and len(after) == 1 and isinstance(after[0], int)):
        problems.append(f"search_after {after!r} is not one log_id")
    return problems


def time_value(value: Any) -> float | None:
    """Seconds in an Elasticsearch time value (``1500ms``, ``5s``), None if it would refuse it.

    As TimeValue.parseTimeValue: a whole number and a unit (nanos, micros, ms, s, m, h,
    d), or ``0``, or ``-1`` (no timeout, as infinity here); fractions and bare numbers
    are refused.
    """
    text = str(value).strip().lower()
    if text in ("0", "-1"):
        return 0.0 if text == "0" else float("inf")
    match = re.fullmatch(r"([0-9]+)(nanos|micros|ms|s|m|h|d)", text)
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


_UNITS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_UNITS["d"] = 86400.0


def count_body(body: dict[str, Any]) -> list[str]:
    """A ``_count``: only the query (it takes no timeout, so we count with ``_search``)."""
    problems = _query(body.get("query"))
    return problems if set(body) == {"query"} else [*problems, f"count body keys {sorted(body)}"]


def _query(query: Any) -> list[str]:
    options = dict((query or {}).get("query_string", {}))
    text = options.pop("query", None)
    problems = [] if isinstance(text, str) else [f"no query_string text in {query!r}"]
    if set(query or {}) != {"query_string"} or options != QUERY_STRING_OPTIONS:
        problems.append(f"query_string options {options} differ from {QUERY_STRING_OPTIONS}")
    return problems
