"""The original's subscription routes: create, read, update and list (no delete, by design)."""

from __future__ import annotations

from flask import request
from sqlalchemy import func, select

from app.api.rest import criteria, schemas
from app.api.rest.errors import ApiError
from app.api.rest.spec import RestApi
from app.db import values
from app.extensions import db
from app.models import Subscription
from app.usecases import subscriptions

NOT_FOUND = "Async event with subscription ID %1 does not exist"  # the original's words
MAX_ID = values.INT32[1]  # the id column is an INTEGER; a larger id cannot exist


def display(sub: Subscription) -> schemas.Subscription:
    """The display object; the token, sink and modification time never leave the service."""
    subscribed = sub.subscribed_at.strftime("%Y-%m-%d %H:%M:%S") if sub.subscribed_at else None
    return schemas.Subscription(
        subscription_id=sub.subscription_id,
        event_name=sub.event_name,
        recipient_url=sub.recipient_url,
        status=sub.status,
        subscribed_at=subscribed,
        store_id=sub.store_id,
    )


def found(subscription_id: int) -> Subscription:
    """The subscription, or the original's 404 (ids beyond the column's range included: the
    routes take any number, ``<int(max=None):…>``, to give this answer)."""
    sub = db.session.get(Subscription, subscription_id) if subscription_id <= MAX_ID else None
    if sub is None:
        raise ApiError(404, NOT_FOUND, [subscription_id])
    return sub


def register(api: RestApi) -> None:
    """Add the routes to ``api``."""

    @api.operation(
        "POST",
        "/V1/async_event",
        summary="Subscribe a recipient to an event",
        tag="subscriptions",
        permission="save",
        body=schemas.SaveRequest,
        responses={200: schemas.Subscription},
        errors=(400, 415, 422),
    )
    def create_subscription(body: schemas.SaveRequest) -> schemas.Subscription:
        new = body.asyncEvent
        try:
            sub = subscriptions.create(
                new.event_name,
                new.recipient_url,
                new.verification_token,
                new.metadata,
                new.store_id,
            )
        except subscriptions.SubscriptionError as exc:
            raise ApiError(422, str(exc)) from None
        return display(sub)

    @api.operation(
        "GET",
        "/V1/async_event/<int(max=None):subscription_id>",
        summary="Read a subscription",
        tag="subscriptions",
        permission="view",
        responses={200: schemas.Subscription},
        errors=(404,),
    )
    def get_subscription(subscription_id: int) -> schemas.Subscription:
        return display(found(subscription_id))

    @api.operation(
        "PUT",
        "/V1/async_event/<int(max=None):subscription_id>",
        summary="Enable, disable, change sink, rotate token",
        tag="subscriptions",
        permission="save",
        body=schemas.UpdateRequest,
        responses={200: schemas.Subscription},
        errors=(400, 404, 415, 422),
    )
    def update_subscription(
        subscription_id: int, body: schemas.UpdateRequest
    ) -> schemas.Subscription:
        change = body.asyncEvent
        found(subscription_id)
        try:
            sub = subscriptions.update(
                subscription_id,
                status=change.status,
                sink=change.metadata or None,
                token=change.verification_token,
            )
        except subscriptions.SubscriptionError as exc:
            raise ApiError(422, str(exc)) from None
        return display(sub)

    @api.operation(
        "GET",
        "/V1/async_events",
        summary="List subscriptions with Magento searchCriteria",
        tag="subscriptions",
        permission="view",
        responses={200: schemas.SubscriptionList},
        errors=(400,),
    )
    def list_subscriptions() -> schemas.SubscriptionList:
        given = criteria.nest(request.args)
        query, echo = criteria.apply(select(Subscription), given)
        size, current = criteria.page(given)
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        if size is not None:
            query = query.limit(size).offset((current - 1) * size)
            echo.update(page_size=size, current_page=current)
        items = [display(s) for s in db.session.scalars(query)]
        return schemas.SubscriptionList(items=items, search_criteria=echo, total_count=total or 0)
