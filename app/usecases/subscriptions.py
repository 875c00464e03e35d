"""Subscriptions: create and change them, with the validation the original lacked."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.events import get_registry
from app.extensions import db
from app.models import Subscription, recipients
from app.models.stores import check_store_id
from app.models.types import utcnow
from app.sinks import recipient_address, sink_names, validate_recipient
from app.sinks.addresses import check_host, networks

MAX_RECIPIENT = 1024


class SubscriptionError(ValueError):
    """A subscription was asked for that cannot work; the message says why."""


def validate(event_name: str, recipient_url: str, sink: str, store_id: int) -> None:
    """Refuse an unknown event or sink, or a recipient that is wrong for its sink."""
    if event_name not in get_registry():
        known = ", ".join(get_registry().names())
        raise SubscriptionError(f"unknown event {event_name!r}; known events: {known}")
    if sink not in sink_names():
        raise SubscriptionError(f"unknown sink {sink!r}; known sinks: {', '.join(sink_names())}")
    if not recipient_url or len(recipient_url) > MAX_RECIPIENT:
        raise SubscriptionError(f"recipient_url must be 1 to {MAX_RECIPIENT} characters")
    problem = validate_recipient(sink, recipient_url)
    if problem:
        raise SubscriptionError(_masked(problem, recipient_url))
    _check_address(sink, recipient_url)
    problem = check_store_id(store_id)
    if problem:
        raise SubscriptionError(_masked(problem, recipient_url))


def _masked(message: str, recipient_url: str) -> str:
    """``message`` with the recipient's password starred out, wherever a sink's check quoted it.

    A refusal goes back to the client in a 422 and may be logged on the way: neither may
    carry a credential, whatever a (plugin) sink's message repeats of the recipient.
    """
    public, password = recipients.split(recipient_url)
    if not password:
        return message
    return message.replace(recipient_url, recipients.join(public, "***")).replace(password, "***")


def _check_address(sink: str, recipient_url: str) -> None:
    """The recipient's host must not resolve into a network the SSRF policy forbids."""
    try:
        target = recipient_address(sink, recipient_url)
    except ValueError:  # e.g. a port out of range, which the form check let through
        raise SubscriptionError(f"recipient_url {recipient_url!r} has no valid port") from None
    if target is None:
        return
    allowed = networks(current_app.config.get("DELIVERY_ALLOWED_NETWORKS") or [])
    why = check_host(*target, allowed)
    if why:
        raise SubscriptionError(f"recipient_url refused: {why}")


def create(
    event_name: str,
    recipient_url: str,
    token: str,
    sink: str = "http",
    store_id: int = 0,
) -> Subscription:
    """Create an enabled subscription, as the original's create does (status forced on)."""
    validate(event_name, recipient_url, sink, store_id)
    if not token:
        raise SubscriptionError("verification_token must not be empty")
    public_url, password = recipients.split(recipient_url)
    sub = Subscription(
        event_name=event_name,
        recipient_url=public_url,
        recipient_secret=password,
        verification_token=token,
        status=True,
        subscribed_at=utcnow(),
        sink=sink,
        store_id=store_id,
    )
    db.session.add(sub)
    db.session.commit()
    return sub


def update(
    subscription_id: int,
    status: bool | None = None,
    sink: str | None = None,
    token: str | None = None,
) -> Subscription:
    """Change what is given and leave the rest (the original disabled on a missing status).

    A new token starts a rotation: the old one keeps signing deliveries, beside the
    new one, for DELIVERY_TOKEN_GRACE_SECONDS, so receivers can switch without loss.
    """
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise SubscriptionError(f"subscription {subscription_id} does not exist")
    if sink is not None and sink not in sink_names():
        raise SubscriptionError(f"unknown sink {sink!r}; known sinks: {', '.join(sink_names())}")
    if status is not None:
        sub.status = status
        sub.disabled_reason = None if status else sub.disabled_reason
    if sink is not None:
        sub.sink = sink
    if token is not None and token != sub.verification_token:
        grace = timedelta(seconds=current_app.config["DELIVERY_TOKEN_GRACE_SECONDS"])
        sub.previous_token, sub.previous_token_expires = sub.verification_token, utcnow() + grace
        sub.verification_token = token
    db.session.commit()
    return sub


def set_status(subscription_id: int, enabled: bool) -> Subscription | None:
    """Enable or disable a subscription; None if it does not exist."""
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        return None
    sub.status = enabled
    sub.disabled_reason = None if enabled else sub.disabled_reason
    db.session.commit()
    return sub
