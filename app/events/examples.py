"""Example resolvers that compute a payload, shipped to show what a resolver does."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime
from typing import Any


class Timezones:
    """Describe an IANA time zone as it is at a given instant (now by default)."""

    def lookup(self, name: str, at: str | None = None) -> dict[str, Any]:
        """Return the UTC offset, abbreviation and DST state of zone ``name``.

        ``at`` is an optional ISO 8601 instant (a naive one is taken as UTC).
        Raises ``LookupError`` for a zone the tz database doesn't know.
        """
        zone = _zone(name)
        instant = _instant(at).astimezone(zone)
        offset = instant.utcoffset()
        seconds = int(offset.total_seconds()) if offset is not None else 0
        return {
            "name": name,
            "local_time": instant.isoformat(timespec="seconds"),
            "utc_offset": _format_offset(seconds),
            "utc_offset_seconds": seconds,
            "abbreviation": instant.tzname(),
            "is_dst": bool(instant.dst()),
        }


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the zone called ``name``; only real zone keys, never an arbitrary path."""
    if not isinstance(name, str) or name not in _zone_names():
        raise LookupError(f"unknown time zone {name!r}")
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _zone_names() -> frozenset[str]:
    """Return every zone key; cached because listing them walks the tz database."""
    return frozenset(zoneinfo.available_timezones())


def _instant(at: str | None) -> datetime:
    """Parse ``at`` as an aware datetime, defaulting to now."""
    if at is None:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(at)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _format_offset(seconds: int) -> str:
    """Format an offset in seconds as ``+05:30`` / ``-03:00``."""
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
