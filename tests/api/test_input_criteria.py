"""searchCriteria regressions: values that reached the database and failed there, now 400s.

From issue 13: integers beyond 64 bits (OverflowError on SQLite) and "²" as an index
(isdigit() accepts it, int() does not). From the fuzzing, on PostgreSQL: integers beyond
the column (INTEGER, SMALLINT), ``like`` on numbers, booleans and times, comparisons on
booleans, text where a time belongs, NUL in a value. Every case runs on both databases.
"""

from __future__ import annotations

import pytest

from app.usecases import subscriptions

F = "searchCriteria[filterGroups][0][filters][0]"
BEYOND_64 = "99999999999999999999999"


def only(field: str, value: str, condition: str = "eq") -> str:
    """A query string with one filter."""
    return f"{F}[field]={field}&{F}[value]={value}&{F}[conditionType]={condition}"


@pytest.fixture
def viewer(api):
    with api.app.app_context():
        for store in (0, 7):
            subscriptions.create("example.event", "https://example.com/hook", "t", store_id=store)
    return api.token("view")


def listing(api, token, query: str):
    return api.call("GET", f"/rest/V1/async_events?{query}", token)


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        (f"searchCriteria[pageSize]=10&searchCriteria[currentPage]={BEYOND_64}", "currentPage"),
        (only("store_id", BEYOND_64), "store_id"),
        (only("store_id", f"-{BEYOND_64}", "lt"), "store_id"),
        (only("subscription_id", "9223372036854775808", "gt"), "subscription_id"),
        (only("subscription_id", "2147483648", "lteq"), "subscription_id"),  # INTEGER
        (only("store_id", "2147483648"), "store_id"),  # INTEGER
        (only("store_id", f"1,{BEYOND_64}", "in"), "store_id"),
    ],
)
def test_integers_beyond_their_column_are_a_400_naming_the_field(api, viewer, query, needle):
    response = listing(api, viewer, query)
    assert response.status_code == 400
    assert needle in response.json["message"] + str(response.json["parameters"])


@pytest.mark.parametrize(
    "query",
    [
        f"searchCriteria[filterGroups][²][filters][0][field]=store_id&{F}[value]=1",
        "searchCriteria[filterGroups][0][filters][²][field]=store_id",
        "searchCriteria[sortOrders][²][field]=store_id",
        "searchCriteria[sortOrders][%D9%A1][field]=store_id",  # Arabic-Indic one
        "searchCriteria[currentPage]=%EF%BC%92&searchCriteria[pageSize]=1",  # fullwidth two
        only("subscription_id", "%D9%A1%D9%A2"),  # Arabic-Indic twelve
    ],
)
def test_unicode_digits_are_not_numbers_or_indexes(api, viewer, query):
    response = listing(api, viewer, query)
    assert response.status_code == 400 and response.json["message"]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        (only("store_id", "1", "like"), "does not apply"),
        (only("status", "1", "like"), "does not apply"),
        (only("subscribed_at", "2026%", "like"), "does not apply"),
        (only("status", "0", "gt"), "does not apply"),
        (only("subscribed_at", "yesterday", "gt"), "date or time"),
        (only("modified", "0001-01-01T00:00:00+01:00", "gt"), "date or time"),
        (only("event_name", "x" * 1025), "longer than"),
        (only("store_id", ",".join(["1"] * 1001), "in"), "at most"),
        ("&".join(f"{F[:-3]}[{i}][field]=store_id" for i in range(21)), "more than"),
        (f"{F}[field]=store_id&{F}[conditionType][x]=eq", "single value"),
        ("searchCriteria[sortOrders][0][field][x]=store_id", "cannot be sorted"),
        ("searchCriteria[currentPage]=1000001&searchCriteria[pageSize]=1", "currentPage"),
    ],
)
def test_values_the_database_would_refuse_are_a_400(api, viewer, query, needle):
    response = listing(api, viewer, query)
    assert response.status_code == 400
    assert needle in response.json["message"] + str(response.json["parameters"])


@pytest.mark.parametrize(
    ("inside", "outside", "expected"),
    [
        (only("store_id", "7"), only("store_id", "2147483648"), [2]),  # INTEGER
        (only("store_id", "65536", "lt"), only("store_id", "-2147483649", "gt"), [1, 2]),
        (
            only("subscription_id", "2147483647", "lteq"),
            only("subscription_id", "2147483648"),
            [1, 2],
        ),
        (
            only("subscribed_at", "2000-01-01", "gt"),
            only("subscribed_at", "yesterday", "gt"),
            [1, 2],
        ),
        (
            only("modified", "2000-01-01T00:00:00%2B02:00", "gteq"),
            only("modified", "0001-01-01T00:00:00%2B01:00", "gteq"),
            [1, 2],
        ),
        (only("status", "1"), only("status", "0", "gt"), [1, 2]),
        (only("event_name", "example.%25", "like"), only("store_id", "1%25", "like"), [1, 2]),
        (
            "searchCriteria[pageSize]=1&searchCriteria[currentPage]=1000000",
            "searchCriteria[pageSize]=1&searchCriteria[currentPage]=1000001",
            [],
        ),
    ],
)
def test_each_range_ends_where_its_column_does(api, viewer, inside, outside, expected):
    within = listing(api, viewer, inside)
    assert within.status_code == 200, within.json
    assert [item["subscription_id"] for item in within.json["items"]] == expected
    beyond = listing(api, viewer, outside)
    assert beyond.status_code == 400 and beyond.json["message"]
