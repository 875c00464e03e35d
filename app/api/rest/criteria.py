"""Magento ``searchCriteria`` query strings: parsed, validated, and applied to subscriptions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.api.rest.errors import ApiError
from app.models import Subscription

KEY = re.compile(r"^searchCriteria((?:\[[^\[\]]*\])*)$")
# Filterable columns; never the token. Each with a parser for its filter values.
COLUMNS: dict[str, tuple[InstrumentedAttribute[Any], type]] = {
    "subscription_id": (Subscription.subscription_id, int),
    "event_name": (Subscription.event_name, str),
    "recipient_url": (Subscription.recipient_url, str),
    "status": (Subscription.status, bool),
    "subscribed_at": (Subscription.subscribed_at, str),
    "modified": (Subscription.modified, str),
    "metadata": (Subscription.sink, str),
    "store_id": (Subscription.store_id, int),
}
CONDITIONS = ("eq", "neq", "like", "in", "nin", "gt", "gteq", "lt", "lteq", "null", "notnull")


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


def _indexed(node: Any, what: str) -> list[Any]:
    if node in (None, ""):
        return []
    if not isinstance(node, dict) or not all(k.isdigit() for k in node):
        raise ApiError(400, "searchCriteria %1 must be indexed like [0], [1]", [what])
    return [node[k] for k in sorted(node, key=int)]


def _value(column: str, kind: type, raw: str) -> Any:
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ApiError(
                400, "Filter value %1 for %2 is not a whole number", [raw, column]
            ) from None
    if kind is bool:
        if raw.lower() not in {"0", "1", "true", "false"}:
            raise ApiError(400, "Filter value %1 for %2 is not a boolean", [raw, column])
        return raw.lower() in {"1", "true"}
    return raw


def condition(spec: Any) -> Any:
    """One filter ``{field, value, condition_type}`` as a SQL condition."""
    if not isinstance(spec, dict) or not isinstance(spec.get("field"), str):
        raise ApiError(400, "Each filter needs a field")
    name, kind_name = spec["field"], spec.get("conditionType", spec.get("condition_type", "eq"))
    if name not in COLUMNS:
        raise ApiError(
            400, "Field %1 cannot be filtered; use one of %2", [name, ", ".join(COLUMNS)]
        )
    if kind_name not in CONDITIONS:
        raise ApiError(
            400, "Condition %1 is not supported; use one of %2", [kind_name, ", ".join(CONDITIONS)]
        )
    column, kind = COLUMNS[name]
    raw = spec.get("value", "")
    if not isinstance(raw, str):
        raise ApiError(400, "Filter value for %1 must be a single value", [name])
    if kind_name in ("null", "notnull"):
        return column.is_(None) if kind_name == "null" else column.is_not(None)
    if kind_name in ("in", "nin"):
        values = [_value(name, kind, v.strip()) for v in raw.split(",") if v.strip()]
        return column.in_(values) if kind_name == "in" else column.not_in(values)
    if kind_name == "like":
        return column.like(raw)
    value = _value(name, kind, raw)
    ops = {
        "eq": "__eq__",
        "neq": "__ne__",
        "gt": "__gt__",
        "gteq": "__ge__",
        "lt": "__lt__",
        "lteq": "__le__",
    }
    return getattr(column, ops[kind_name])(value)


def apply(query: Select[Any], criteria: dict[str, Any]) -> tuple[Select[Any], dict[str, Any]]:
    """Filter groups (AND of ORs) and sort orders; returns the query and the echoed criteria."""
    groups = []
    for group in _indexed(
        criteria.get("filterGroups") or criteria.get("filter_groups"), "filterGroups"
    ):
        filters = _indexed(group.get("filters") if isinstance(group, dict) else None, "filters")
        if filters:
            query = query.where(or_(*[condition(f) for f in filters]))
            groups.append({"filters": [_echo(f) for f in filters]})
    orders = []
    for order in _indexed(criteria.get("sortOrders") or criteria.get("sort_orders"), "sortOrders"):
        name = order.get("field") if isinstance(order, dict) else None
        if name not in COLUMNS:
            raise ApiError(400, "Field %1 cannot be sorted on", [name])
        direction = str(order.get("direction", "ASC")).upper()
        if direction not in ("ASC", "DESC"):
            raise ApiError(400, "Sort direction must be ASC or DESC, got %1", [direction])
        column = COLUMNS[name][0]
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
    try:
        size = int(criteria["pageSize"]) if criteria.get("pageSize") not in (None, "") else None
        current = int(criteria.get("currentPage") or 1)
    except (TypeError, ValueError):
        raise ApiError(400, "pageSize and currentPage must be whole numbers") from None
    if (size is not None and not 1 <= size <= 1000) or current < 1:
        raise ApiError(400, "pageSize must be 1 to 1000 and currentPage at least 1")
    return size, current
