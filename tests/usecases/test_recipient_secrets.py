"""A recipient's password: kept apart from its URL, encrypted at rest, shown nowhere."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Subscription, recipients
from app.usecases import subscription_edits, subscriptions

URL = "https://shop:s3cr%40t@hooks.example.com:8443/orders?x=1#frag"
PUBLIC = "https://shop@hooks.example.com:8443/orders?x=1#frag"


@pytest.mark.parametrize(
    ("url", "public", "password"),
    [
        (URL, PUBLIC, "s3cr%40t"),
        (
            "amqp://guest:guest@127.0.0.1:5672/%2F?exchange=e",
            "amqp://guest@127.0.0.1:5672/%2F?exchange=e",
            "guest",
        ),
        ("mqtt://u:p@[::1]:1883/a/b", "mqtt://u@[::1]:1883/a/b", "p"),
        ("nats://u:@host/s", "nats://u@host/s", ""),  # an empty password is still one
        ("https://example.com/hook", "https://example.com/hook", None),
        ("https://user@example.com/hook", "https://user@example.com/hook", None),
        ("https://example.com/a@b:c", "https://example.com/a@b:c", None),  # not userinfo
        (
            "arn:aws:events:us-east-1:123456789012:event-bus/b",
            "arn:aws:events:us-east-1:123456789012:event-bus/b",
            None,
        ),
    ],
)
def test_split_and_join_give_back_the_url(url, public, password):
    assert recipients.split(url) == (public, password)
    assert recipients.join(public, password) == url


def test_the_password_is_stored_encrypted_and_shown_nowhere(ctx, api):
    token = api.token("manage")
    sub = subscriptions.create("example.event", URL, "token")
    sub_id = sub.subscription_id
    assert sub.recipient_url == PUBLIC and sub.delivery_recipient() == URL
    raw = db.session.execute(
        text("SELECT recipient_url, recipient_secret FROM async_event_subscriber")
    ).one()
    assert raw[0] == PUBLIC and "s3cr" not in raw[1]  # a Fernet token, not the password
    db.session.rollback()  # SQLite: the request's own writes need the lock this holds
    shown = api.call("GET", f"/rest/V1/async_event/{sub_id}", token)
    assert shown.json["recipient_url"] == PUBLIC
    assert "s3cr" not in shown.get_data(as_text=True)


def test_an_edit_that_keeps_the_url_keeps_the_password(ctx):
    sub = subscriptions.create("example.event", URL, "token")
    args = ("example.event", True, "http", 0)
    edited = subscription_edits.edit(sub.subscription_id, "example.event", PUBLIC, *args[1:])
    assert edited.delivery_recipient() == URL  # the form sent the URL back as it showed it
    moved = PUBLIC.replace("hooks.example.com", "other.example.com")
    edited = subscription_edits.edit(sub.subscription_id, "example.event", moved, *args[1:])
    assert edited.recipient_secret is None  # a new host does not get the old password
    again = moved.replace("shop@", "shop:n3w@")
    edited = subscription_edits.edit(sub.subscription_id, "example.event", again, *args[1:])
    assert edited.delivery_recipient() == again and edited.recipient_url == moved
    assert db.session.get(Subscription, sub.subscription_id).recipient_secret == "n3w"


@pytest.mark.parametrize(
    ("sink", "recipient"),
    [
        ("nats", "nats://shop:s3cret@127.0.0.1:4222/orders.*"),
        ("mqtt", "mqtt://shop:s3cret@127.0.0.1/orders/#"),
        ("rabbitmq", "amqp://shop:s3cret@127.0.0.1/%2F?routing_key=no-exchange"),
    ],
)
def test_a_refused_recipient_is_quoted_without_its_password(ctx, api, sink, recipient):
    with pytest.raises(subscriptions.SubscriptionError) as refused:
        subscriptions.create("example.event", recipient, "token", sink=sink)
    assert "s3cret" not in str(refused.value)
    body = {"event_name": "example.event", "recipient_url": recipient, "metadata": sink}
    body["verification_token"] = "token"
    token = api.token("manage")
    response = api.call("POST", "/rest/V1/async_event", token, json={"asyncEvent": body})
    assert response.status_code == 422 and "s3cret" not in response.get_data(as_text=True)
