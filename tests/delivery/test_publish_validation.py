"""Publications that cannot be stored and delivered faithfully are refused when published.

The same goes for a resolver's payload: it fails its own publication at fan-out, with
the reason, and the other publications of the batch are delivered.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.delivery import publishing
from app.extensions import db
from app.models import Delivery, DeliveryLog, Publication
from app.usecases import subscriptions

PATH = "/rest/V1/async_events/publish"


def nested(depth: int) -> dict:
    """``{"a": {"a": ... 1}}`` with ``depth`` objects, built without recursion."""
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value  # type: ignore[return-value]


def stored() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Publication))


REFUSED = [
    ({"name": "\ud800"}, r"arguments\.name holds a lone surrogate \(\\ud800\)"),
    ({"ok": [1, {"\udfff": 1}]}, r"arguments\.ok\[1\] key '\\udfff' holds a lone surrogate"),
    ({"total": math.nan}, r"arguments\.total is NaN"),
    ({"total": [math.inf]}, r"arguments\.total\[0\] is Infinity"),
    ({"total": -math.inf}, r"arguments\.total is -Infinity"),
    ({"name": "a\x00b"}, r"arguments\.name holds NUL"),
    (nested(1000), "nested deeper than 64 levels"),
    ({"list": json.loads("[" * 64 + "]" * 64)}, "nested deeper than 64"),
    ({"blob": "x" * (1 << 20)}, "bytes as JSON; the limit is 1048576"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_publish_refuses_what_it_cannot_deliver_and_stores_nothing(ctx, args, message):
    with pytest.raises(publishing.PublishError, match=message):
        publishing.publish("example.event", args)
    with pytest.raises(publishing.PublishError, match=message):  # all or nothing
        publishing.publish_many([("example.event", {"fine": 1}, 0), ("example.event", args, 0)])
    assert stored() == 0


def test_the_limits_are_settings(ctx):
    ctx.config.update(PUBLISH_MAX_DEPTH=3, PUBLISH_MAX_BYTES=20)
    publishing.publish("example.event", {"a": {"b": {}}})
    with pytest.raises(publishing.PublishError, match="nested deeper than 3 levels"):
        publishing.publish("example.event", {"a": {"b": {"c": {}}}})
    with pytest.raises(publishing.PublishError, match="22 bytes as JSON; the limit is 20"):
        publishing.publish("example.event", {"k": "\u00e9" * 7})  # counted in UTF-8
    assert stored() == 1


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        # The REST body parser (app/api/rest/body.py) refuses these before the service
        # sees them: malformed JSON or unstorable text is a 400 for any route.
        ('{"name": "\\ud800"}', 400, "Text may not contain"),
        ('{"\\udc00x": 1}', 400, "Text may not contain"),
        ('{"total": NaN}', 400, "NaN is not a JSON number"),
        ('{"total": Infinity}', 400, "Infinity is not a JSON number"),
        ('{"total": -Infinity}', 400, "Infinity is not a JSON number"),
        ('{"name": "a\\u0000b"}', 400, "Text may not contain"),
        (json.dumps(nested(100)), 400, "nested deeper than %1 levels"),
        (json.dumps(nested(900)), 400, "nested deeper than %1 levels"),
        (json.dumps({"blob": "x" * 300_000}), 413, "the limit is"),
    ],
)
def test_rest_publish_refuses_what_it_cannot_deliver(api, arguments, status, message):
    body = f'{{"event_name": "example.event", "arguments": {arguments}}}'
    token = api.token("publish")
    response = api.call("POST", PATH, token, data=body, content_type="application/json")
    assert response.status_code == status
    assert message in f"{response.json['message']} {response.json.get('parameters')}"
    with api.app.app_context():
        assert stored() == 0


class PoisonResolver:
    """Resolvers whose payloads ``publish()`` would have refused as arguments."""

    def surrogate(self, **_: object) -> dict:
        return {"name": "\ud800"}

    def nul(self, **_: object) -> dict:
        return {"name": "a\x00b"}

    def deep(self, **_: object) -> dict:
        return nested(100)

    def recursion(self, **_: object) -> dict:
        return nested(5000)  # beyond what json can even encode

    def huge(self, **_: object) -> dict:
        return {"blob": "x" * (1 << 20)}


POISONS = {
    "surrogate": "lone surrogate",
    "nul": "holds NUL",
    "deep": "nested deeper than 64",
    "recursion": "nested too deeply",
    "huge": "the limit is 1048576",
}


@pytest.fixture
def config(config: dict, tmp_path: Path) -> dict:
    """The test config, with one event per poisonous resolver."""
    definitions = tmp_path / "poison.xml"
    resolver = f"{__name__}.PoisonResolver"
    events = "".join(
        f'<async_event name="poison.{method}"><service class="{resolver}" method="{method}"/>'
        "</async_event>"
        for method in POISONS
    )
    definitions.write_text(f"<config>{events}</config>")
    return {**config, "ASYNC_EVENTS_DEFINITIONS": [str(definitions)]}


def test_a_resolver_payload_that_cannot_be_delivered_fails_its_publication_alone(
    ctx, receiver, jobs
):
    for method in POISONS:
        subscriptions.create(f"poison.{method}", receiver.route(f"/{method}"), "t")
    subscriptions.create("example.event", receiver.route("/fine"), "t")
    ids = publishing.publish_many(
        [(f"poison.{method}", {}, 0) for method in POISONS] + [("example.event", {"n": 1}, 0)]
    )
    jobs()
    for pub_id, (method, reason) in zip(ids, POISONS.items(), strict=False):
        publication = db.session.get(Publication, pub_id)
        assert publication.state == "failed", method
        assert reason in publication.error
        assert receiver.received(f"/{method}") == []
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1
    receiver.wait_for(1, "/fine")
    assert db.session.scalar(select(func.count()).select_from(DeliveryLog)) == 1


def test_an_idempotency_key_with_nul_is_refused_on_both_databases(api):
    token = api.token("publish")
    body = {"event_name": "example.event"}
    response = api.call("POST", PATH, token, json=body, headers={"Idempotency-Key": "a\x00b"})
    assert response.status_code == 400 and "printable" in response.json["message"]
    with api.app.app_context():
        assert stored() == 0
        with pytest.raises(publishing.PublishError, match="idempotency key"):
            publishing.create_publication("example.event", {}, idempotency_key="a\x00b")
        assert stored() == 0
