"""REST regressions: each input that made a route answer 500 now gets a 400 that says why.

Issue 13 reproduced these on main: JSON nested 1,000 deep on publish, subscribe, PUT and
bulk replay (RecursionError); integers beyond 64 bits in searchCriteria on SQLite
(OverflowError); "²" as a searchCriteria index (isdigit() yes, int() no). The rest were
found by the fuzzing, most on PostgreSQL only. Every case runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Publication, Subscription

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
SUBSCRIBE = '{"asyncEvent":{"event_name":"example.event","recipient_url":"https://example.com/x",'
SUBSCRIBE += '"verification_token":"t","metadata":"http"%s}}'
F = "searchCriteria[filterGroups][0][filters][0]"


def only(field: str, value: str, condition: str = "eq") -> str:
    """A query string with one filter."""
    return f"{F}[field]={field}&{F}[value]={value}&{F}[conditionType]={condition}"


@pytest.fixture
def manager(api):
    with api.app.app_context():
        from app.usecases import subscriptions

        subscriptions.create("example.event", "https://example.com/hook", "tok")
    return api.token("manage")


def stored(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/rest/V1/async_events/publish", '{"event_name":"example.event","arguments":@}'),
        ("POST", "/rest/V1/async_event", '{"asyncEvent":@}'),
        ("PUT", "/rest/V1/async_event/1", '{"asyncEvent":{"metadata":@}}'),
        ("POST", "/rest/V1/async_event_logs/replay", '{"q":@}'),
    ],
)
@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_json_nested_1000_deep_is_a_400_before_any_model(api, manager, method, path, body, deep):
    data = body.replace("@", deep)
    response = api.call(method, path, manager, data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json == {
        "message": "The request body is nested deeper than %1 levels.",
        "parameters": [64],
    }
    assert stored(api.app, Publication) == 0 and stored(api.app, Subscription) == 1


def test_the_depth_limit_is_exact(api, manager):
    def refusal(depth: int) -> str:
        extra = "[" * (depth - 1) + "]" * (depth - 1)  # under the body's own object
        body = '{"q":"success:false","extra":@}'.replace("@", extra)
        path = "/rest/V1/async_event_logs/replay"
        response = api.call("POST", path, manager, data=body, content_type="application/json")
        assert response.status_code == 400  # "extra" is not a field either
        return response.json["message"]

    assert "nested deeper" not in refusal(64)
    assert "nested deeper" in refusal(65)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('{"event_name":"example.event","arguments":{"x":NaN}}', "NaN is not a JSON number"),
        ('{"event_name":"example.event","arguments":{"x":-Infinity}}', "-Infinity"),
        ('{"event_name":"example.event","arguments":{"x":1e400}}', "does not fit a double"),
        ('{"event_name":"example.event","arguments":{"x":%s}}' % ("9" * 5000), "digits"),
        ('{"event_name":"example.event","arguments":{"x":"\\ud800"}}', "lone surrogates"),
        ('{"event_name":"example.event","arguments":{"\\udc80":1}}', "lone surrogates"),
    ],
)
def test_json_that_cannot_be_stored_is_a_400_at_parse_time(api, manager, body, needle):
    path = "/rest/V1/async_events/publish"
    response = api.call("POST", path, manager, data=body, content_type="application/json")
    assert response.status_code == 400
    assert needle in response.json["message"] + str(response.json["parameters"])
    assert stored(api.app, Publication) == 0


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        (b'{"asyncEvent":{"event_name":"\xed\xa0\x80"}}', 400, "not UTF-8"),
        (b"\xff\xfe{}", 400, "not UTF-8"),
        (SUBSCRIBE.replace("https://example.com/x", "\\udc80") % "", 400, "lone surrogates"),
    ],
)
def test_subscribe_refuses_what_its_columns_cannot_hold(api, manager, data, status, needle):
    response = api.call(
        "POST", "/rest/V1/async_event", manager, data=data, content_type="application/json"
    )
    assert response.status_code == status
    assert needle in response.json["message"] + str(response.json["parameters"])
    assert stored(api.app, Subscription) == 1


def test_store_ids_end_where_magentos_do(api, manager):
    def subscribe(store: int):
        data = SUBSCRIBE % f',"store_id":{store}'
        return api.call(
            "POST", "/rest/V1/async_event", manager, data=data, content_type="application/json"
        )

    largest = subscribe(65535)  # beyond PostgreSQL's SMALLINT, which the column once was
    assert largest.status_code == 200 and largest.json["store_id"] == 65535
    beyond = subscribe(65536)
    assert beyond.status_code == 400 and "store_id" in str(beyond.json["parameters"])
    assert stored(api.app, Subscription) == 2
