"""A rabbitmq recipient URL: where to connect, as whom, and which exchange and routing key.

``amqp://user:password@host:port/vhost?exchange=NAME&routing_key=KEY`` (``amqps://`` for
TLS). The vhost is the path after the first ``/``, URL-encoded (``%2F`` is the vhost
``/``, which an empty path also means); the user and password are URL-encoded too and
default to RabbitMQ's ``guest``. Only ``exchange`` (required) and ``routing_key``
(optional, empty by default) may appear in the query, once each, so a typo is refused
at subscription time rather than silently ignored at delivery.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from app.models import recipients

DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}
MAX_NAME_BYTES = 255  # an AMQP 0-9-1 shortstr: exchange names and routing keys
EXPECTED = (
    "amqp[s]://user:password@host[:port]/vhost?exchange=NAME[&routing_key=KEY]"
    " (vhost URL-encoded, e.g. %2F for /; port 5672, or 5671 for amqps)"
)


class RecipientError(ValueError):
    """The URL is not a usable rabbitmq recipient; the message says what is wrong."""


@dataclass(frozen=True)
class Target:
    """A parsed recipient. ``password`` is left out of ``repr``, so no log or error shows it."""

    scheme: str
    host: str
    port: int
    vhost: str
    user: str
    password: str = field(repr=False)
    exchange: str
    routing_key: str

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS (``amqps``)."""
        return self.scheme == "amqps"

    @functools.cached_property
    def account(self) -> tuple[str, str, int, str, str, str]:
        """What a pooled connection is for: broker, vhost, user and a digest of the password.

        The password counts, so a subscription with a wrong one never borrows a connection
        another subscription logged in with.
        """
        digest = hashlib.sha256(self.password.encode("utf-8", "surrogatepass")).hexdigest()
        return (self.scheme, self.host, self.port, self.vhost, self.user, digest)


@functools.lru_cache(maxsize=4096)
def parse(recipient: str) -> Target:
    """The target ``recipient`` names; RecipientError saying what is wrong if it names none.

    Cached: every delivery parses its recipient, and a shop has few (a tenth of the
    sink's CPU time went here).
    """
    try:
        parts = urlsplit(recipient)
        port = parts.port
    except ValueError as exc:  # an unclosed IPv6 bracket, a port out of range
        raise RecipientError(str(exc)) from None
    if parts.scheme not in DEFAULT_PORTS:
        raise RecipientError("the scheme must be amqp or amqps")
    if not parts.hostname:
        raise RecipientError("the host is missing")
    if parts.fragment:
        raise RecipientError("a #fragment is not allowed")
    exchange, routing_key = _query(parts.query)
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        vhost=_vhost(parts.path),
        user=unquote(parts.username) if parts.username is not None else "guest",
        password=unquote(parts.password) if parts.password is not None else "guest",
        exchange=exchange,
        routing_key=routing_key,
    )


def _vhost(path: str) -> str:
    """The vhost a URL path names: ``/`` for none, else the one URL-encoded segment."""
    if path in ("", "/"):
        return "/"
    if "/" in path[1:]:
        raise RecipientError("the vhost must be one path segment; write a / in it as %2F")
    return unquote(path[1:])


def _query(query: str) -> tuple[str, str]:
    """The exchange and routing key from the query string, each at most once."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise RecipientError("the query string is malformed") from None
    names = [name for name, _ in pairs]
    unknown = sorted(set(names) - {"exchange", "routing_key"})
    if unknown:
        raise RecipientError(f"unknown parameter {unknown[0]!r}; only exchange and routing_key")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RecipientError(f"{repeated[0]} is given more than once")
    values = dict(pairs)
    exchange, routing_key = values.get("exchange", ""), values.get("routing_key", "")
    if not exchange:
        raise RecipientError("exchange is required")
    for name, value in (("exchange", exchange), ("routing_key", routing_key)):
        if len(value.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise RecipientError(f"{name} is longer than {MAX_NAME_BYTES} bytes")
    return exchange, routing_key


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not a rabbitmq URL, and what one looks like; None if it is one.

    The recipient is quoted without its password: this text reaches the API's answer.
    """
    try:
        parse(recipient)
    except RecipientError as exc:
        shown = recipients.split(recipient)[0]
        return f"recipient_url {shown!r} is not {EXPECTED}, as the rabbitmq sink needs: {exc}"
    return None


def address(recipient: str) -> tuple[str, int]:
    """The host and port a valid recipient connects to (for the SSRF check)."""
    target = parse(recipient)
    return target.host, target.port
