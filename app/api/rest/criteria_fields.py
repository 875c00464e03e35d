"""The fields ``searchCriteria`` may filter and sort on, and how each parses a filter value.

A value is parsed to the column's type before it reaches the database, so the database
never sees text it would refuse: whole numbers in ASCII digits within the column's range
(SMALLINT or INTEGER on PostgreSQL), booleans as 0/1/true/false, times as ISO 8601, and
text of at most ``MAX_TEXT`` characters. ``like`` applies to text fields only; the
comparisons (``gt``...) to everything but booleans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

from app.api import values
from app.api.rest.errors import ApiError
from app.models import Subscription

MAX_TEXT = 1024  # characters in one filter value (recipient_url, the longest column, holds 1024)
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
    """A filterable column: its kind (``int``, ``bool``, ``time``, ``text``) and, for whole
    numbers, the range its database column holds."""

    column: InstrumentedAttribute[Any]
    kind: str
    bounds: tuple[int, int] = values.INT64

    @property
    def conditions(self) -> tuple[str, ...]:
        """The condition types this field takes."""
        return CONDITIONS[self.kind]

    def parse(self, name: str, raw: str) -> Any:
        """``raw`` as a value of this field, or a 400 naming ``name`` and what is wrong."""
        if self.kind == "int":
            return _whole(name, raw, self.bounds)
        if self.kind == "bool":
            if raw.strip().lower() not in {"0", "1", "true", "false"}:
                raise ApiError(400, "Filter value %1 for %2 is not a boolean", [raw[:100], name])
            return raw.strip().lower() in {"1", "true"}
        if len(raw) > MAX_TEXT:
            raise ApiError(
                400, "Filter value for %1 is longer than %2 characters", [name, MAX_TEXT]
            )
        return _time(name, raw) if self.kind == "time" else raw


# Filterable columns; never the token.
FIELDS: dict[str, Field] = {
    "subscription_id": Field(Subscription.subscription_id, "int", values.INT32),
    "event_name": Field(Subscription.event_name, "text"),
    "recipient_url": Field(Subscription.recipient_url, "text"),
    "status": Field(Subscription.status, "bool"),
    "subscribed_at": Field(Subscription.subscribed_at, "time"),
    "modified": Field(Subscription.modified, "time"),
    "metadata": Field(Subscription.sink, "text"),
    "store_id": Field(Subscription.store_id, "int", values.INT16),
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
