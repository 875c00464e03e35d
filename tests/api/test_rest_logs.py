"""History over REST: Lucene search with cursor paging, trace, replay one and many."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.delivery import publishing
from app.extensions import db
from app.models import Delivery
from app.usecases import subscriptions
from tests.receiver import Reply

NOBODY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def delivered(app, receiver, jobs):
    """Three events delivered, one failing permanently: four log rows.

    No app context stays pushed: requests then get their own, as in production.
    """
    with app.app_context():
        subscriptions.create("customer.created", receiver.route("/ok"), "t")
        subscriptions.create("sales.order.created", receiver.route("/no", Reply(404)), "t")
        for n in range(3):
            publishing.publish("customer.created", {"n": n, "email": f"user{n}@example.com"})
        publishing.publish("sales.order.created", {"increment_id": "CK0001"})
    jobs()
    return receiver


def chains(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Delivery))


def test_search_pages_through_every_match_with_a_cursor(api, delivered):
    token = api.token("logs_list")
    seen, cursor = [], None
    while True:
        url = "/rest/V1/async_event_logs?q=event_name:customer.*&page_size=2"
        response = api.call("GET", url + (f"&cursor={cursor}" if cursor else ""), token)
        assert response.status_code == 200
        seen += [item["log_id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 and seen == sorted(seen, reverse=True)
    failed = api.call("GET", "/rest/V1/async_event_logs?q=success:false", token).json["items"]
    assert [i["event_name"] for i in failed] == ["sales.order.created"]
    assert failed[0]["status_code"] == 404 and failed[0]["retryable"] is False
    payload = api.call(
        "GET", '/rest/V1/async_event_logs?q=data.data.email:"user1@example.com"', token
    )
    assert len(payload.json["items"]) == 1


@pytest.mark.parametrize(
    "query",
    ["q=event_name:(", "q=a~2", "q=created:>now-1x", "cursor=not-a-cursor", "page_size=0"],
)
def test_bad_searches_are_400_with_a_reason(api, delivered, query):
    response = api.call("GET", f"/rest/V1/async_event_logs?{query}", api.token("logs_list"))
    assert response.status_code == 400 and response.json["message"]


def test_trace_and_replay_one_chain(api, delivered, jobs):
    uuid = delivered.received("/ok")[0].headers["webhook-id"]
    trace = api.call("GET", f"/rest/V1/async_event_logs/{uuid}", api.token("logs_trace"))
    assert trace.status_code == 200
    assert trace.json["status"] == "Delivered" and len(trace.json["attempts"]) == 1
    assert trace.json["payload"]["id"] == uuid
    assert trace.json["subscription"]["event_name"] == "customer.created"
    replayed = api.call(
        "POST", f"/rest/V1/async_event_logs/{uuid}/replay", api.token("logs_replay")
    )
    assert replayed.status_code == 202 and replayed.json["uuid"] == uuid
    missing = "/rest/V1/async_event_logs/00000000-0000-4000-8000-000000000000"
    assert api.call("GET", missing, api.token("logs_trace")).status_code == 404
    assert api.call("POST", missing + "/replay", api.token("logs_replay")).status_code == 404


def test_bulk_replay_counts_first_then_replays_every_matching_chain(api, delivered, jobs):
    token = api.token("logs_replay")
    path = "/rest/V1/async_event_logs/replay"
    dry = api.call("POST", path, token, json={"q": "event_name:customer.created"})
    assert dry.status_code == 200 and dry.json == {"count": 3, "dry_run": True}
    before = chains(api.app)
    real = api.call(
        "POST", path, token, json={"q": "event_name:customer.created", "dry_run": False}
    )
    assert real.status_code == 202 and real.json["count"] == 3
    jobs()
    assert chains(api.app) == before + 3
    bad = api.call("POST", path, token, json={"q": "event_name:("})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("GET", "/rest/V1/async_event_logs", "logs_list"),
        ("GET", f"/rest/V1/async_event_logs/{NOBODY}", "logs_trace"),
        ("POST", f"/rest/V1/async_event_logs/{NOBODY}/replay", "logs_replay"),
        ("POST", "/rest/V1/async_event_logs/replay", "logs_replay"),
    ],
)
def test_history_permissions(api, method, path, permission):
    body = {"q": "*"} if path.endswith("logs/replay") else None
    assert api.call(method, path, json=body).status_code == 401
    assert api.call(method, path, api.token("view"), json=body).status_code == 403
    assert api.call(method, path, api.token(permission), json=body).status_code in (200, 404)
