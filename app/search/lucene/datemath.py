"""Date math: the bounds of ``created`` ranges, as Elasticsearch resolves them.

``created`` holds ``yyyy-MM-dd HH:mm:ss`` in UTC and compares as text, so every bound
becomes that form. Date math is ``now`` or ``<date>||`` followed by operations applied
in order: ``+N<unit>``, ``-N<unit>`` (N defaults to 1) and ``/<unit>`` (rounding), with
units ``y M w d h H m s`` (``h`` and ``H`` are both hours; weeks start on Monday).

Rounding follows Elasticsearch's range rule: ``gte`` and ``lt`` round down to the start
of the unit, ``lte`` and ``gt`` round up to its last second (``round_up``), so
``created:[now/d TO now/d]`` is all of today and ``created:>now/d`` starts tomorrow.
For a Range: ``round_up = not include_lower`` for the lower bound and
``round_up = include_upper`` for the upper one. ``now`` is truncated to the second.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from app.search.lucene.ast import QuerySyntaxError

FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OPERATION = re.compile(r"([+-])([0-9]*)([yMwdhHms])|/([yMwdhHms])")
_FIXED = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
_FIXED |= {"H": timedelta(hours=1), "m": timedelta(minutes=1), "s": timedelta(seconds=1)}


class DateMathError(QuerySyntaxError):
    """A bound that is date math (``now…`` or ``…||…``) but cannot be resolved.

    The parser cannot reject it (the oracle, which has no date math, accepts any bound),
    so backends raise it when they resolve the bound; it is a 400 like a syntax error.
    """


def is_date_math(text: str) -> bool:
    """Whether ``text`` is meant as date math: ``now``, ``now`` + operations, or ``x||…``."""
    return text == "now" or (text.startswith("now") and text[3] in "+-/") or "||" in text


def resolve(text: str, now: datetime, round_up: bool) -> str | None:
    """The bound ``text`` means at ``now``, or None if it is not date math.

    Raises DateMathError if it is date math but malformed or out of range.
    """
    if not is_date_math(text):
        return None
    anchor_text, operations = ("now", text[3:]) if text.startswith("now") else text.split("||", 1)
    moment = _utc_second(now) if anchor_text == "now" else _anchor(anchor_text)
    position = 0
    while position < len(operations):
        match = _OPERATION.match(operations, position)
        if match is None:
            raise DateMathError(f"cannot read date math {operations[position:]!r} in {text!r}")
        sign, count, unit, rounding = match.groups()
        try:
            if rounding:
                moment = _round(moment, rounding, round_up)
            else:
                moment = _add(moment, unit, int(count or "1") * (-1 if sign == "-" else 1))
        except (OverflowError, ValueError) as error:
            raise DateMathError(f"date math {text!r} is out of range") from error
        position = match.end()
    return _format(moment)


def date_bound(text: str, now: datetime, round_up: bool) -> str:
    """A ``created`` range bound: resolved date math, else the oracle's ``dateBound`` rule
    (``T`` becomes a space; a bare ``yyyy-MM-dd`` means its midnight)."""
    resolved = resolve(text, now, round_up)
    if resolved is not None:
        return resolved
    value = text.replace("T", " ")
    return value + " 00:00:00" if _DATE_ONLY.fullmatch(value) else value


def _format(moment: datetime) -> str:
    # strftime does not zero-pad years before 1000 on every platform.
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}"


def _utc_second(now: datetime) -> datetime:
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(microsecond=0)


def _anchor(text: str) -> datetime:
    value = text.replace("T", " ")
    value = value + " 00:00:00" if _DATE_ONLY.fullmatch(value) else value
    try:
        return datetime.strptime(value, FORMAT)
    except ValueError as error:
        raise DateMathError(f"date math anchor {text!r} is not yyyy-MM-dd[ HH:mm:ss]") from error


def _add(moment: datetime, unit: str, count: int) -> datetime:
    if unit in _FIXED:
        return moment + _FIXED[unit] * count
    months = count * (12 if unit == "y" else 1)
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])  # Jan 31 + 1M = Feb 28
    return moment.replace(year=year, month=month + 1, day=day)


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    """The first second of ``unit`` containing ``moment``, or with ``up`` its last second."""
    start = _start_of(moment, unit)
    if not up:
        return start
    return _add(start, unit, 1) - timedelta(seconds=1)


def _start_of(moment: datetime, unit: str) -> datetime:
    if unit == "y":
        return datetime(moment.year, 1, 1)
    if unit == "M":
        return datetime(moment.year, moment.month, 1)
    if unit == "w":
        return datetime(moment.year, moment.month, moment.day) - timedelta(days=moment.weekday())
    if unit == "d":
        return datetime(moment.year, moment.month, moment.day)
    if unit in "hH":
        return moment.replace(minute=0, second=0)
    return moment.replace(second=0) if unit == "m" else moment
