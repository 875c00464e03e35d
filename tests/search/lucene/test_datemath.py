"""Date math on ``created`` bounds: units, rounding by Elasticsearch's rule, anchors, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.search.backend import LogDocument
from app.search.lucene.ast import QuerySyntaxError
from app.search.lucene.datemath import DateMathError, date_bound, resolve
from app.search.lucene.parser import parse
from tests.search.lucene.lucene_eval import evaluate

NOW = datetime(2026, 1, 31, 13, 45, 12, 500_000)  # a Saturday


@pytest.mark.parametrize(
    ("text", "round_up", "expected"),
    [
        ("now", False, "2026-01-31 13:45:12"),
        ("now-1h", False, "2026-01-31 12:45:12"),
        ("now-1H", False, "2026-01-31 12:45:12"),
        ("now+2d", False, "2026-02-02 13:45:12"),
        ("now-d", False, "2026-01-30 13:45:12"),
        ("now-90m", False, "2026-01-31 12:15:12"),
        ("now+30s", False, "2026-01-31 13:45:42"),
        ("now-1w", False, "2026-01-24 13:45:12"),
        ("now+1M", False, "2026-02-28 13:45:12"),
        ("now-1y", False, "2025-01-31 13:45:12"),
        ("now-7d/d", False, "2026-01-24 00:00:00"),
        ("now-7d/d", True, "2026-01-24 23:59:59"),
        ("now/d", False, "2026-01-31 00:00:00"),
        ("now/d", True, "2026-01-31 23:59:59"),
        ("now/w", False, "2026-01-26 00:00:00"),
        ("now/w", True, "2026-02-01 23:59:59"),
        ("now/M", True, "2026-01-31 23:59:59"),
        ("now/y", False, "2026-01-01 00:00:00"),
        ("now/y", True, "2026-12-31 23:59:59"),
        ("now/h", True, "2026-01-31 13:59:59"),
        ("now/m", False, "2026-01-31 13:45:00"),
        ("now/s", True, "2026-01-31 13:45:12"),
        ("now/d+6h", False, "2026-01-31 06:00:00"),
        ("2026-01-01||+1M/d", False, "2026-02-01 00:00:00"),
        ("2026-01-01||+1M/d", True, "2026-02-01 23:59:59"),
        ("2026-01-31||+1M", False, "2026-02-28 00:00:00"),
        ("2024-02-29||+1y", False, "2025-02-28 00:00:00"),
        ("2026-01-05 10:30:00||-30m", False, "2026-01-05 10:00:00"),
        ("2026-01-05T10:30:00||", False, "2026-01-05 10:30:00"),
    ],
)
def test_resolve(text: str, round_up: bool, expected: str) -> None:
    assert resolve(text, NOW, round_up) == expected


def test_now_in_another_zone_is_read_in_utc() -> None:
    plus_two = NOW.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    assert resolve("now", plus_two, False) == "2026-01-31 13:45:12"


@pytest.mark.parametrize("text", ["2026-01-31", "nowhere", "NOW", "", "2026-01-31 10:00:00"])
def test_plain_values_are_not_date_math(text: str) -> None:
    assert resolve(text, NOW, False) is None


@pytest.mark.parametrize(
    "text", ["now-1x", "now+", "now/2d", "now-1d/", "x||+1d", "0001-01-01||-1d"]
)
def test_malformed_date_math_is_a_query_error(text: str) -> None:
    with pytest.raises(DateMathError, match="date math") as raised:
        resolve(text, NOW, False)
    assert isinstance(raised.value, QuerySyntaxError)  # answered as a 400, like a syntax error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", "2026-01-31 00:00:00"),
        ("2026-01-31T12:00:00", "2026-01-31 12:00:00"),
        ("2026-01-31 12:00:00", "2026-01-31 12:00:00"),
        ("2026-01", "2026-01"),  # anything else compares as text, as in the oracle
        ("now/d", "2026-01-31 23:59:59"),
    ],
)
def test_date_bound(text: str, expected: str) -> None:
    assert date_bound(text, NOW, round_up=True) == expected


def row(log_id: int, created: str) -> LogDocument:
    return LogDocument(log_id, 1, "u", "e", True, created, "OK", None)


ROWS = [
    row(1, "2026-01-23 23:59:59"),
    row(2, "2026-01-24 00:00:00"),
    row(3, "2026-01-31 00:00:00"),
    row(4, "2026-01-31 13:45:12"),
    row(5, "2026-01-31 23:59:59"),
    row(6, "2026-02-01 00:00:00"),
]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("created:>=now/d", [6, 5, 4, 3]),
        ("created:>now/d", [6]),
        ("created:<now/d", [2, 1]),
        ("created:<=now/d", [5, 4, 3, 2, 1]),
        ("created:[now/d TO now/d]", [5, 4, 3]),
        ("created:{now-7d/d TO now/d}", []),
        ("created:[now-7d/d TO now]", [4, 3, 2]),
        ("created:>now-1h", [6, 5, 4]),
    ],
)
def test_created_ranges_round_as_elasticsearch_does(query: str, ids: list[int]) -> None:
    assert evaluate(parse(query), ROWS, NOW) == ids
