"""Operator changes to subscriptions: edit every field, enable or disable many, rotate tokens.

The dashboard's form saves every posted field, as the original's admin form does (its
REST update only applies status and metadata), through the same validation as REST.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select

from app.extensions import db
from app.models import Subscription, recipients
from app.usecases import subscriptions
from app.usecases.subscriptions import SubscriptionError


def new_token() -> str:
    """A fresh verification token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def create(
    event_name: str, recipient_url: str, enabled: bool, sink: str, store_id: int
) -> tuple[Subscription, str]:
    """Create a subscription with a generated token; return it and the token (shown once)."""
    token = new_token()
    sub = subscriptions.create(event_name, recipient_url, token, sink=sink, store_id=store_id)
    if not enabled:
        subscriptions.set_status(sub.subscription_id, False)
    return sub, token


def edit(
    subscription_id: int,
    event_name: str,
    recipient_url: str,
    enabled: bool,
    sink: str,
    store_id: int,
) -> Subscription:
    """Validate and save every field but the token; SubscriptionError says what is wrong."""
    sub = db.session.get(Subscription, subscription_id)
    if sub is None:
        raise SubscriptionError(f"subscription {subscription_id} does not exist")
    public_url, password = recipients.keep(sub.recipient_url, sub.recipient_secret, recipient_url)
    subscriptions.validate(event_name, recipients.join(public_url, password), sink, store_id)
    sub.event_name, sub.sink, sub.store_id = event_name, sink, store_id
    sub.recipient_url, sub.recipient_secret = public_url, password
    db.session.commit()
    return subscriptions.set_status(subscription_id, enabled) or sub


def rotate_token(subscription_id: int) -> str:
    """Give a subscription a new token; the old one keeps signing during the grace period."""
    token = new_token()
    subscriptions.update(subscription_id, token=token)
    return token


def set_many(ids: Iterable[int], enabled: bool) -> tuple[int, int]:
    """Enable or disable the given subscriptions; return (changed, already in that state)."""
    rows = db.session.scalars(select(Subscription).where(Subscription.subscription_id.in_(ids)))
    changed = already = 0
    for sub in rows:
        if sub.status == enabled:
            already += 1
            continue
        sub.status = enabled
        sub.disabled_reason = None if enabled else sub.disabled_reason
        changed += 1
    db.session.commit()
    return changed, already
