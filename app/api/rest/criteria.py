"""Magento ``searchCriteria`` query strings: parsed, validated, and applied to subscriptions.

Limits, each a 400 beyond: ``MAX_GROUPS`` filter groups of ``MAX_FILTERS`` filters each,
``pageSize`` 1 to ``MAX_PAGE_SIZE``, ``currentPage`` 1 to ``MAX_PAGE``. Indexes are ASCII
digits (``[0]``, ``[1]``...). Each field's values: ``criteria_fields``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, or_

from app.api.rest.criteria_fields import EVERY as CONDITIONS
from app.api.rest.criteria_fields import FIELDS
from app.api.rest.errors import ApiError
from app.db import values
from app.models import Subscription

KEY = re.compile(r"^searchCriteria((?:\[[^\[\]]*\])*)$")
INDEX = re.compile(r"[0-9]{1,9}")
MAX_GROUPS = 20
MAX_FILTERS = 20  # per group; with MAX_GROUPS, far below SQLite's expression depth of 1000
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000


def nest(args: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``searchCriteria[a][0][b]=v`` pairs into nested dicts (lists stay index-keyed)."""
    tree: dict[str, Any] = {}
    for raw_key, value in args.items():
        match = KEY.match(raw_key)
        if match is None:
            continue
        parts = re.findall(r"\[([^\[\]]*)\]", match.group(1))
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ApiError(400, "searchCriteria key %1 conflicts with another", [raw_key])
            node = child
        if parts:
            node[parts[-1]] = value
    return tree


def _indexed(node: Any, what: str, limit: int) -> list[Any]:
    if node in (None, ""):
        return []
    if not isinstance(node, dict) or not all(INDEX.fullmatch(k) for k in node):
        raise ApiError(400, "searchCriteria %1 must be indexed like [0], [1]", [what])
    if len(node) > limit:
        raise ApiError(400, "searchCriteria has more than %1 %2", [limit, what])
    return [node[k] for k in sorted(node, key=int)]


def _text(spec: dict[str, Any], *keys: str, default: str = "") -> str:
    """The first of ``keys`` present in ``spec``, which must be a single value."""
    value = next((spec[k] for k in keys if k in spec), default)
    if not isinstance(value, str):
        raise ApiError(400, "searchCriteria %1 must be a single value, not nested", [keys[0]])
    return value


def condition(spec: Any) -> Any:
    """One filter ``{field, value, condition_type}`` as a SQL condition."""
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str):
        raise ApiError(400, "Each filter needs a field")
    name, kind_name = spec["field"], _text(spec, "conditionType", "condition_type", default="eq")
    if name not in FIELDS:
        raise ApiError(400, "Field %1 cannot be filtered; use one of %2", [name, ", ".join(FIELDS)])
    if kind_name not in CONDITIONS:
        raise ApiError(
            400, "Condition %1 is not supported; use one of %2", [kind_name, ", ".join(CONDITIONS)]
        )
    return FIELDS[name].condition(kind_name, _text(spec, "value"))


def apply(query: Select[Any], criteria: dict[str, Any]) -> tuple[Select[Any], dict[str, Any]]:
    """Filter groups (AND of ORs) and sort orders; returns the query and the echoed criteria."""
    groups = []
    given = criteria.get("filterGroups") or criteria.get("filter_groups")
    for group in _indexed(given, "filterGroups", MAX_GROUPS):
        filters = group.get("filters") if isinstance(group, dict) else None
        filters = _indexed(filters, "filters", MAX_FILTERS)
        if filters:
            query = query.where(or_(*[condition(f) for f in filters]))
            groups.append({"filters": [_echo(f) for f in filters]})
    orders = []
    given = criteria.get("sortOrders") or criteria.get("sort_orders")
    for order in _indexed(given, "sortOrders", len(FIELDS)):
        name = order.get("field") if isinstance(order, dict) else None
        if not isinstance(name, str) or name not in FIELDS:
            raise ApiError(400, "Field %1 cannot be sorted on", [name])
        direction = _text(order, "direction", default="ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise ApiError(400, "Sort direction must be ASC or DESC, got %1", [direction[:100]])
        column = FIELDS[name].column
        query = query.order_by(column.desc() if direction == "DESC" else column.asc())
        orders.append({"field": name, "direction": direction})
    echo: dict[str, Any] = {"filter_groups": groups}
    if orders:
        echo["sort_orders"] = orders
    return query.order_by(Subscription.subscription_id), echo


def _echo(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec.get("conditionType", spec.get("condition_type", "eq"))
    return {"field": spec["field"], "value": spec.get("value", ""), "condition_type": kind}


def page(criteria: dict[str, Any]) -> tuple[int | None, int]:
    """``pageSize`` (None: all) and ``currentPage`` (1-based), validated."""
    size_text, current_text = criteria.get("pageSize"), criteria.get("currentPage")
    if not all(isinstance(v, str | None) for v in (size_text, current_text)):
        raise ApiError(400, "pageSize and currentPage must be single values")
    size = values.whole(size_text) if size_text else None
    current = values.whole(current_text) if current_text else 1
    if (size_text and size is None) or current is None:
        raise ApiError(400, "pageSize and currentPage must be whole numbers")
    if (size is not None and not 1 <= size <= MAX_PAGE_SIZE) or not 1 <= current <= MAX_PAGE:
        raise ApiError(
            400,
            "pageSize must be 1 to %1 and currentPage 1 to %2",
            [MAX_PAGE_SIZE, MAX_PAGE],
        )
    return size, current
