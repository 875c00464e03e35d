"""The fields ``searchCriteria`` may filter and sort on, and the SQL condition of each filter.

A value is parsed to the column's type before it reaches the database, so the database
never sees text it would refuse: whole numbers in ASCII digits within the column's range
(INTEGER on PostgreSQL), booleans as 0/1/true/false, times as ISO 8601, and
text of at most ``MAX_TEXT`` characters. ``like`` applies to text fields only; the
comparisons (``gt``...) to everything but booleans; ``in`` and ``nin`` take at most
``MAX_IN_VALUES`` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from app.api.rest.errors import ApiError
from app.db import values
from app.models import Subscription

MAX_TEXT = 1024  # characters in one filter value (recipient_url, the longest column, holds 1024)
MAX_IN_VALUES = 1000  # below SQLite's and PostgreSQL's limits on bound parameters
OPERATORS = {"eq": "__eq__", "neq": "__ne__", "gt": "__gt__", "gteq": "__ge__"}
OPERATORS |= {"lt": "__lt__", "lteq": "__le__"}
EVERY = ("eq", "neq", "like", "in", "nin", "gt", "gteq", "lt", "lteq", "null", "notnull")
# The conditions each kind of field takes.
CONDITIONS = {
    "text": EVERY,
    "int": tuple(c for c in EVERY if c != "like"),
    "time": tuple(c for c in EVERY if c != "like"),
    "bool": ("eq", "neq", "in", "nin", "null", "notnull"),
}


@dataclass(frozen=True)
class Field:
    """A filterable column under its API name: its kind (``int``, ``bool``, ``time``,
    ``text``) and, for whole numbers, the range its database column holds."""

    name: str
    column: InstrumentedAttribute[Any]
    kind: str
    bounds: tuple[int, int] = values.INT64

    @property
    def conditions(self) -> tuple[str, ...]:
        """The condition types this field takes."""
        return CONDITIONS[self.kind]

    def condition(self, kind: str, raw: str) -> Any:
        """The SQL condition ``kind`` (eq, like, in...) with the value ``raw``, or a 400."""
        if kind not in self.conditions:
            message = "Condition %1 does not apply to %2; use one of %3"
            raise ApiError(400, message, [kind, self.name, ", ".join(self.conditions)])
        column = self.column
        if kind in ("null", "notnull"):
            return column.is_(None) if kind == "null" else column.is_not(None)
        if kind in ("in", "nin"):
            items = [v.strip() for v in raw.split(",") if v.strip()]
            if len(items) > MAX_IN_VALUES:
                raise ApiError(400, "Condition %1 takes at most %2 values", [kind, MAX_IN_VALUES])
            parsed = [self.parse(v) for v in items]
            return column.in_(parsed) if kind == "in" else column.not_in(parsed)
        if kind == "like":
            return column.like(self.parse(raw))
        return getattr(column, OPERATORS[kind])(self.parse(raw))

    def parse(self, raw: str) -> Any:
        """``raw`` as a value of this field, or a 400 naming the field and what is wrong."""
        if self.kind == "int":
            return _whole(self.name, raw, self.bounds)
        if self.kind == "bool":
            if raw.strip().lower() not in {"0", "1", "true", "false"}:
                message = "Filter value %1 for %2 is not a boolean"
                raise ApiError(400, message, [raw[:100], self.name])
            return raw.strip().lower() in {"1", "true"}
        if len(raw) > MAX_TEXT:
            message = "Filter value for %1 is longer than %2 characters"
            raise ApiError(400, message, [self.name, MAX_TEXT])
        return _time(self.name, raw) if self.kind == "time" else raw


# Filterable columns; never the token.
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("subscription_id", Subscription.subscription_id, "int", values.INT32),
        Field("event_name", Subscription.event_name, "text"),
        Field("recipient_url", Subscription.recipient_url, "text"),
        Field("status", Subscription.status, "bool"),
        Field("subscribed_at", Subscription.subscribed_at, "time"),
        Field("modified", Subscription.modified, "time"),
        Field("metadata", Subscription.sink, "text"),
        Field("store_id", Subscription.store_id, "int", values.INT32),
    )
}


def _whole(name: str, raw: str, bounds: tuple[int, int]) -> int:
    number = values.whole(raw)
    if number is None:
        raise ApiError(400, "Filter value %1 for %2 is not a whole number", [raw[:100], name])
    if not values.within(number, bounds):
        raise ApiError(
            400,
            "Filter value %1 for %2 is out of range: %3 to %4",
            [raw[:100], name, *bounds],
        )
    return number


def _time(name: str, raw: str) -> datetime:
    """An ISO 8601 date or time; one with an offset is converted to UTC, as stored."""
    try:
        moment = datetime.fromisoformat(raw.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise ApiError(
            400,
            "Filter value %1 for %2 is not a date or time like 2026-01-31 or 2026-01-31 13:45:00",
            [raw[:100], name],
        ) from None
    return moment
