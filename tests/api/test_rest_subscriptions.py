"""The original's subscription routes over REST: fields, errors, permissions, searchCriteria."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Subscription
from app.sinks.registry import BUILTIN

KNOWN_SINKS = ", ".join(sorted(kind.name for kind in BUILTIN))
DISPLAY = {"subscription_id", "event_name", "recipient_url", "status", "subscribed_at", "store_id"}


def new_event(**overrides) -> dict:
    body = {
        "event_name": "sales.order.created",
        "recipient_url": "https://example.com/order_created",
        "verification_token": "supersecret",
        "metadata": "http",
    }
    body.update(overrides)
    return {"asyncEvent": body}


@pytest.fixture
def manager(api):
    return api.token("manage")


def create(api, token, **overrides):
    return api.call("POST", "/rest/V1/async_event", token, json=new_event(**overrides))


def test_create_get_and_list_expose_display_fields_only(api, manager):
    created = create(api, manager, store_id=2)
    assert created.status_code == 200
    body = created.json
    assert set(body) == DISPLAY and body["status"] is True and body["store_id"] == 2
    got = api.call("GET", f"/rest/V1/async_event/{body['subscription_id']}", manager)
    assert got.status_code == 200 and got.json == body
    listed = api.call("GET", "/rest/V1/async_events?searchCriteria=", manager)
    assert listed.status_code == 200
    assert listed.json["total_count"] == 1 and set(listed.json["items"][0]) == DISPLAY
    for response in (created, got, listed):
        assert b"supersecret" not in response.data and b"verification_token" not in response.data


def test_unknown_subscription_is_the_originals_404(api, manager):
    response = api.call("GET", "/rest/V1/async_event/99", manager)
    assert response.status_code == 404
    assert response.json == {
        "message": "Async event with subscription ID %1 does not exist",
        "parameters": [99],
    }


@pytest.mark.parametrize(
    ("overrides", "status", "needle"),
    [
        ({"event_name": "nope.event"}, 422, "known events: "),
        ({"metadata": "fax"}, 422, f"known sinks: {KNOWN_SINKS}"),
        ({"metadata": "sqs", "recipient_url": "my-queue"}, 422, "sqs"),
        ({"recipient_url": "not a url"}, 422, "http(s) URL"),
        ({"store_id": -1}, 400, "store_id"),
        ({"verification_token": ""}, 400, "verification_token"),
        ({"colour": "blue"}, 400, "colour"),
    ],
)
def test_bad_subscriptions_are_refused_clearly(api, manager, overrides, status, needle):
    response = create(api, manager, **overrides)
    assert response.status_code == status
    assert needle in response.json["message"] or needle in str(response.json["parameters"])
    with api.app.app_context():
        assert db.session.query(Subscription).count() == 0


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": "asyncEvent=1", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"json": {"asyncEvent": "x"}}, 400),
        ({"json": [1, 2]}, 400),
        ({"data": "x" * (2 * 1024 * 1024), "content_type": "application/json"}, 413),
    ],
)
def test_malformed_bodies_get_4xx_never_500(api, manager, kwargs, status):
    assert api.call("POST", "/rest/V1/async_event", manager, **kwargs).status_code == status


def test_put_changes_status_and_sink_and_keeps_status_when_absent(api, manager):
    sub_id = create(api, manager).json["subscription_id"]
    path = f"/rest/V1/async_event/{sub_id}"
    off = api.call("PUT", path, manager, json={"asyncEvent": {"status": False}})
    assert off.status_code == 200 and off.json["status"] is False
    same = api.call("PUT", path, manager, json={"asyncEvent": {"metadata": "http"}})
    assert same.json["status"] is False  # the original would have disabled here anyway
    on = api.call("PUT", path, manager, json={"asyncEvent": {"status": True, "recipient_url": "x"}})
    assert (
        on.json["status"] is True
        and on.json["recipient_url"] == "https://example.com/order_created"
    )
    bad = api.call("PUT", path, manager, json={"asyncEvent": {"metadata": "fax"}})
    assert bad.status_code == 422
    assert (
        api.call("PUT", "/rest/V1/async_event/999", manager, json={"asyncEvent": {}}).status_code
        == 404
    )


def test_put_rotates_the_token_with_a_grace_period(api, manager):
    sub_id = create(api, manager).json["subscription_id"]
    path = f"/rest/V1/async_event/{sub_id}"
    response = api.call("PUT", path, manager, json={"asyncEvent": {"verification_token": "n3w"}})
    assert response.status_code == 200 and b"n3w" not in response.data
    with api.app.app_context():
        assert db.session.get(Subscription, sub_id).signing_tokens() == ("n3w", "supersecret")


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("POST", "/rest/V1/async_event", "save"),
        ("GET", "/rest/V1/async_event/1", "view"),
        ("PUT", "/rest/V1/async_event/1", "save"),
        ("GET", "/rest/V1/async_events", "view"),
        ("POST", "/rest/V1/async_events/publish", "publish"),
    ],
)
def test_permissions(api, manager, method, path, permission):
    create(api, manager)
    body = new_event() if path.endswith("async_event") else {"event_name": "example.event"}
    if method == "PUT":
        body = {"asyncEvent": {"status": True}}
    assert api.call(method, path, json=body).status_code == 401
    assert api.call(method, path, "ae_wrong", json=body).status_code == 401
    other = "logs_list" if permission != "logs_list" else "view"
    assert api.call(method, path, api.token(other), json=body).status_code == 403
    assert api.call(method, path, api.token(permission), json=body).status_code in (200, 202)


def test_failed_authentication_is_throttled(api, app):
    app.config["API_AUTH_FAILURE_LIMIT"] = 3
    codes = [api.call("GET", "/rest/V1/async_events", "ae_bad").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    throttled = api.call("GET", "/rest/V1/async_events", "ae_bad")
    assert 0 < int(throttled.headers["Retry-After"]) <= 60  # what is left of the window


def test_search_criteria_filters_sorts_and_pages(api, manager):
    for i, event in enumerate(["customer.created", "customer.updated", "sales.order.created"]):
        create(api, manager, event_name=event, store_id=i)
    q = (
        "/rest/V1/async_events?searchCriteria[filterGroups][0][filters][0][field]=event_name"
        "&searchCriteria[filterGroups][0][filters][0][value]=customer.%25"
        "&searchCriteria[filterGroups][0][filters][0][conditionType]=like"
        "&searchCriteria[filterGroups][0][filters][1][field]=store_id"
        "&searchCriteria[filterGroups][0][filters][1][value]=2"
        "&searchCriteria[filterGroups][1][filters][0][field]=status"
        "&searchCriteria[filterGroups][1][filters][0][value]=1"
        "&searchCriteria[sortOrders][0][field]=subscription_id"
        "&searchCriteria[sortOrders][0][direction]=DESC"
        "&searchCriteria[pageSize]=2&searchCriteria[currentPage]=1"
    )
    body = api.call("GET", q, manager).json
    assert body["total_count"] == 3
    assert [i["subscription_id"] for i in body["items"]] == [3, 2]
    assert body["search_criteria"]["page_size"] == 2
    assert body["search_criteria"]["filter_groups"][0]["filters"][0]["condition_type"] == "like"


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("eq", "2", [2]),
        ("neq", "2", [1, 3]),
        ("in", "1,3", [1, 3]),
        ("nin", "1,3", [2]),
        ("gt", "2", [3]),
        ("gteq", "2", [2, 3]),
        ("lt", "2", [1]),
        ("lteq", "2", [1, 2]),
        ("null", "", []),
        ("notnull", "", [1, 2, 3]),
    ],
)
def test_condition_types(api, manager, condition, value, expected):
    for _ in range(3):
        create(api, manager)
    q = (
        "/rest/V1/async_events?searchCriteria[filterGroups][0][filters][0][field]=subscription_id"
        f"&searchCriteria[filterGroups][0][filters][0][value]={value}"
        f"&searchCriteria[filterGroups][0][filters][0][conditionType]={condition}"
    )
    assert [i["subscription_id"] for i in api.call("GET", q, manager).json["items"]] == expected


@pytest.mark.parametrize(
    "query",
    [
        "searchCriteria[filterGroups][0][filters][0][field]=verification_token",
        "searchCriteria[filterGroups][0][filters][0][field]=store_id&searchCriteria[filterGroups][0][filters][0][value]=x",
        "searchCriteria[filterGroups][0][filters][0][field]=store_id&searchCriteria[filterGroups][0][filters][0][conditionType]=regex",
        "searchCriteria[sortOrders][0][field]=nope",
        "searchCriteria[pageSize]=0",
        "searchCriteria[filterGroups][x][filters][0][field]=store_id",
        "searchCriteria[filterGroups]=1&searchCriteria[filterGroups][0]=2",
    ],
)
def test_bad_search_criteria_are_400(api, manager, query):
    response = api.call("GET", f"/rest/V1/async_events?{query}", manager)
    assert response.status_code == 400 and response.json["message"]


@pytest.mark.parametrize(
    ("sink", "recipient", "expected"),
    [
        ("pubsub", "pubsub://my-project/orders", ["projects/<project-id>/topics/<topic>"]),
        (
            "eventgrid",
            "https://:Key123@topic.westus2-1.eventgrid.azure.net/events",
            ["the path must be /api/events", "<access key>@", "?tenant=<tenant id>"],
        ),
        (
            "rabbitmq",
            "amqp://shop:Key123@mq.example.com/%2F?routing_key=k",
            ["amqp[s]://user:password@host[:port]/vhost?exchange=NAME", "exchange is required"],
        ),
        (
            "nats",
            "nats://shop:Key123@broker.example/orders.*",
            ["nats://[user:password@ | :token@]host[:port]/SUBJECT", "wildcard"],
        ),
        ("mqtt", "mqtt://broker.example.com/orders/#", ["mqtt[s]://[user[:password]@]host[:port]"]),
    ],
)
def test_a_recipient_wrong_for_its_sink_is_a_422_saying_what_is_expected(
    api, manager, sink, recipient, expected
):
    response = create(api, manager, metadata=sink, recipient_url=recipient)
    assert response.status_code == 422
    message = response.json["message"]
    assert all(part in message for part in expected), message
    assert b"Key123" not in response.data


HOSTILE_RECIPIENTS = [
    "amqp://u:p@h\x00ost/%2F?exchange=x",
    "nats://h/\ud800",
    "mqtt://h:99999999999999999999999/t",
    "projects/p\x00roj/topics/t",
    "https://:k\ud800@h.eventgrid.azure.net/api/events",
    "nats://[::1/s",
]


@pytest.mark.parametrize("sink", ["pubsub", "eventgrid", "rabbitmq", "nats", "mqtt"])
@pytest.mark.parametrize("recipient", HOSTILE_RECIPIENTS)
def test_a_hostile_recipient_for_any_sink_is_a_4xx_never_a_500(api, manager, sink, recipient):
    response = create(api, manager, metadata=sink, recipient_url=recipient)
    assert 400 <= response.status_code < 500, response.data
