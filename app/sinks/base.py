"""The sink contract: what a delivery backend is given, and what it answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

SPEC_VERSION = "1.0"
_REQUIRED = ("id", "source", "type")


@dataclass(frozen=True)
class Envelope:
    """One event as a structured-mode CloudEvent 1.0 (no time/subject/dataschema, as 4.x).

    ``id`` is the delivery chain's UUID and stays the same on every retry, so
    receivers can de-duplicate; ``source`` is the store id as a string.
    """

    id: str
    source: str
    type: str
    data: Any

    def attributes(self) -> dict[str, str]:
        """The context attributes without ``data``: what a binary-mode binding puts in headers."""
        return {key: value for key, value in self.to_dict().items() if key != "data"}

    def to_dict(self) -> dict[str, Any]:
        """Return the CloudEvent attributes in the order Magento 4.x serialises them."""
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "datacontenttype": "application/json",
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Envelope:
        """Rebuild an envelope from ``to_dict`` output; ValueError for anything else.

        The 3.x body ``{"data": x}`` is rejected on purpose: it carries no id or
        type, so it cannot be turned back into an event.
        """
        if not isinstance(d, Mapping) or d.get("specversion") != SPEC_VERSION:
            raise ValueError(f"not a CloudEvents {SPEC_VERSION} event: specversion missing")
        for key in _REQUIRED:
            if not isinstance(d.get(key), str) or not d[key]:
                raise ValueError(f"not a CloudEvent: {key!r} must be a non-empty string")
        if "data" not in d:
            raise ValueError("not a CloudEvent: 'data' is missing")
        return cls(id=d["id"], source=d["source"], type=d["type"], data=d["data"])


@dataclass(frozen=True)
class DeliveryRequest:
    """Everything a sink needs for one attempt; it never looks anything up itself.

    ``secrets`` are plaintext verification tokens, the current one first; during a
    token rotation the older ones follow so receivers can switch over at leisure.
    ``legacy_body`` sends the 3.x body ``{"data": payload}`` instead of the CloudEvent.
    """

    recipient: str
    secrets: tuple[str, ...]
    event: Envelope
    legacy_body: bool = False


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt, recorded as a row by the job that asked for it.

    ``retryable`` is meaningless on success. ``response`` is the response body
    (utf-8; each undecodable byte a surrogate, as ``surrogateescape`` decodes it), the
    reason phrase when the body is empty, or the error text, capped by the sink. It may
    hold NUL and lone surrogates: the recorder stores it escaped. ``retry_after`` comes
    from a numeric ``Retry-After``.
    ``gone`` means the endpoint answered 410: the caller disables the subscription.
    """

    success: bool
    retryable: bool
    response: str
    status_code: int | None = None
    retry_after: int | None = None
    duration_ms: int = 0
    gone: bool = False


class Sink(Protocol):
    """A delivery backend (http, eventbridge, sqs...), shared by many threads at once.

    ``deliver`` never raises for a delivery failure: every failure is an ``Outcome``.
    A sink never touches the database. A sink that sends without a thread of ours may
    also have ``start(request, done)``: it returns at once, and ``done(outcome)`` is
    called later on the sink's own thread, never from inside ``start``; the dispatcher
    uses it when it is there (the http sink's libcurl loop).
    """

    name: str

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Attempt one delivery and report what happened."""
        ...


@dataclass(frozen=True)
class SinkType:
    """One kind of sink, as the registry knows it (``app.sinks.registry``).

    ``name`` is what a subscription's ``metadata`` holds, ``label`` what the dashboard's
    form shows. ``build`` makes the sink from ``app.config``, once per app, or returns
    None when it is not configured here, so the sink is simply unavailable; it must not
    connect anywhere (a sink connects on its first delivery). ``recipient_error`` says,
    offline, why a recipient cannot be one for this sink (None: it can); without it any
    recipient is accepted. ``address`` gives the host and port a (valid) recipient makes
    the sink connect to, which a subscription may only name if the SSRF policy
    (``DELIVERY_ALLOWED_NETWORKS``) lets it; a sink that reaches a fixed cloud endpoint
    has none.
    """

    name: str
    label: str
    build: Callable[[Mapping[str, Any]], Sink | None]
    recipient_error: Callable[[str], str | None] | None = None
    address: Callable[[str], tuple[str, int]] | None = None
