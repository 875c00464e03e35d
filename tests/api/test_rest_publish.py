"""Publishing over REST: 202 with an id, Idempotency-Key, size limit, clear refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.delivery import outbox
from app.extensions import db
from app.models import Publication

PATH = "/rest/V1/async_events/publish"


def publications(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Publication))


def test_publish_accepts_and_queues(api, redis_conn):
    body = {"event_name": "example.event", "arguments": {"id": 1}, "store_id": 2}
    response = api.call("POST", PATH, api.token("publish"), json=body)
    assert response.status_code == 202
    assert response.json == {"id": 1, "event_name": "example.event", "status": "pending"}
    assert outbox.flush(api.app)  # the relay thread pushes the id to Redis
    assert redis_conn.llen("rq:queue:event.trigger") == 1


def test_idempotency_key_returns_the_first_result_and_publishes_once(api, redis_conn):
    token = api.token("publish")
    headers = {"Idempotency-Key": "order-42-created"}
    first = api.call("POST", PATH, token, json={"event_name": "example.event"}, headers=headers)
    again = api.call("POST", PATH, token, json={"event_name": "example.event"}, headers=headers)
    assert first.status_code == again.status_code == 202 and first.json == again.json
    assert outbox.flush(api.app)
    assert publications(api.app) == 1 and redis_conn.llen("rq:queue:event.trigger") == 1
    other = api.call(
        "POST",
        PATH,
        token,
        json={"event_name": "example.event"},
        headers={"Idempotency-Key": "another"},
    )
    assert other.json["id"] != first.json["id"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"event_name": "nope.event"}, 422, "known events"),
        ({"event_name": "example.event", "arguments": [1]}, 400, "arguments"),
        ({"event_name": "example.event", "store_id": -1}, 400, "store_id"),
        ({"event_name": "example.event", "arguments": {"x": "y" * 300_000}}, 413, "limit"),
        ({}, 400, "event_name"),
    ],
)
def test_bad_publications_are_refused_and_nothing_is_stored(api, body, status, needle):
    response = api.call("POST", PATH, api.token("publish"), json=body)
    assert response.status_code == status
    assert needle in response.json["message"] or needle in str(response.json["parameters"])
    assert publications(api.app) == 0


def test_docs_page_lists_every_operation(api):
    spec = api.call("GET", "/rest/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    page = api.call("GET", "/rest/docs").get_data(as_text=True)
    for methods in spec["paths"].values():
        for op in methods.values():
            assert f'id="{op["operationId"]}"' in page
