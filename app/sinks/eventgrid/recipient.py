"""Eventgrid recipients: which topic endpoint a recipient URL names, and how to sign in to it.

Three forms (docs/sink-eventgrid.md): ``https://:KEY@host/api/events`` (an access key),
``https://CLIENT_ID:SECRET@host/api/events?tenant=TENANT`` (an Entra ID app) and
``https://host/api/events`` (the credential from the ``EVENTGRID_*`` settings). Key and
secret are percent-encoded in the URL; the password part is kept encrypted at rest by
``app.models.recipients`` and is never echoed in a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from app.models import recipients
from app.sinks.eventgrid.token import ClientCredentials

API_VERSION = "2018-01-01"
PATH = "/api/events"
EXPECTED = (
    "https://:<access key>@<topic>.<region>-1.eventgrid.azure.net/api/events, "
    "https://<client id>:<client secret>@<topic host>/api/events?tenant=<tenant id>, "
    "or https://<topic host>/api/events with the EVENTGRID_* settings "
    "(percent-encode the key or secret)"
)
_TENANT = re.compile(r"[A-Za-z0-9.-]{1,256}")


@dataclass(frozen=True)
class AccessKey:
    """One of the topic's two access keys, sent as the ``aeg-sas-key`` header."""

    key: str

    def __repr__(self) -> str:  # never print the key
        return "AccessKey(***)"


Credential = AccessKey | ClientCredentials


@dataclass(frozen=True)
class Topic:
    """Where to POST (no credentials in it) and how to sign in (None: from the settings)."""

    url: str
    credential: Credential | None


def parse(recipient: str) -> Topic:
    """The topic endpoint and credential a recipient names; ValueError says what is wrong."""
    parts = urlsplit(recipient)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    if parts.path != PATH or parts.fragment:
        raise ValueError(f"the path must be {PATH}, with no fragment")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    if set(query) - {"tenant"} or any(len(values) != 1 for values in query.values()):
        raise ValueError("tenant is the only query parameter, given once")
    tenant = query.get("tenant", [None])[0]
    credential = _credential(parts.username, parts.password, tenant)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return Topic(f"{parts.scheme}://{host}{port}{PATH}?api-version={API_VERSION}", credential)


def _credential(user: str | None, password: str | None, tenant: str | None) -> Credential | None:
    """An access key (``:KEY@``), Entra client credentials (``ID:SECRET@…?tenant=``) or None."""
    if user is None and password is None and tenant is None:
        return None
    if user == "" and password and tenant is None:
        return AccessKey(unquote(password))
    if user and password and tenant and _TENANT.fullmatch(tenant):
        return ClientCredentials(tenant, unquote(user), unquote(password))
    raise ValueError("credentials must be ':<key>@' or '<client id>:<secret>@' with ?tenant=")


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not an Event Grid topic endpoint, or None if it is one."""
    try:
        parse(recipient)
    except ValueError as exc:
        shown, _ = recipients.split(recipient)  # never echo a key or secret
        return f"recipient_url {shown!r} is not one the eventgrid sink takes ({exc}): {EXPECTED}"
    return None


def address(recipient: str) -> tuple[str, int]:
    """The host and port of the topic endpoint."""
    parts = urlsplit(recipient)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def configured_credential(config: Mapping[str, Any]) -> Credential | None:
    """The credential of recipients without one: EVENTGRID_ACCESS_KEY, else the Entra app."""
    if config.get("EVENTGRID_ACCESS_KEY"):
        return AccessKey(config["EVENTGRID_ACCESS_KEY"])
    names = ("EVENTGRID_TENANT_ID", "EVENTGRID_CLIENT_ID", "EVENTGRID_CLIENT_SECRET")
    values = [config.get(name) for name in names]
    return ClientCredentials(*values) if all(values) else None
