"""Request and response models of the REST API; views validate with them, OpenAPI shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.models.stores import MAX_STORE_ID

# Strict: JSON types are not coerced (no false for an integer), unknown fields are refused.
STRICT = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True)


class AsyncEventCreate(BaseModel):
    """A new subscription, as the original's ``asyncEvent`` object (snake or camel case)."""

    model_config = STRICT
    event_name: str = Field(min_length=1, max_length=255)
    recipient_url: str = Field(min_length=1, max_length=1024)
    verification_token: str = Field(min_length=1, max_length=255)
    metadata: str = Field(min_length=1, max_length=64, description="The sink, e.g. `http`.")
    store_id: int = Field(default=0, ge=0, le=MAX_STORE_ID)
    status: bool | None = Field(default=None, description="Ignored: a new subscription is enabled.")


class AsyncEventUpdate(BaseModel):
    """A change to a subscription. Unlike the original, a missing ``status`` leaves it as is."""

    model_config = STRICT
    subscription_id: int | None = Field(default=None, description="Ignored: the path wins.")
    status: bool | None = None
    metadata: str | None = Field(default=None, max_length=64)
    verification_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Rotates the token; the old one keeps signing during the grace period.",
    )
    event_name: str | None = Field(default=None, description="Ignored, as in the original.")
    recipient_url: str | None = Field(default=None, description="Ignored, as in the original.")
    store_id: int | None = Field(default=None, description="Ignored, as in the original.")


class SaveRequest(BaseModel):
    """``POST /V1/async_event`` body."""

    model_config = ConfigDict(extra="forbid", strict=True)
    asyncEvent: AsyncEventCreate  # the original's wire name


class UpdateRequest(BaseModel):
    """``PUT /V1/async_event/{id}`` body."""

    model_config = ConfigDict(extra="forbid", strict=True)
    asyncEvent: AsyncEventUpdate  # the original's wire name


class Subscription(BaseModel):
    """The display object: never the token, the sink or the modification time."""

    subscription_id: int
    event_name: str
    recipient_url: str
    status: bool
    subscribed_at: str | None
    store_id: int


class SubscriptionList(BaseModel):
    """``GET /V1/async_events``: a page of subscriptions and the criteria that chose it."""

    items: list[Subscription]
    search_criteria: dict[str, Any]
    total_count: int
