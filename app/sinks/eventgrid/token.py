"""Entra ID access tokens for the eventgrid sink: the client-credentials grant, cached.

A token is asked for with an OAuth2 client-credentials POST to
``{authority}/{tenant}/oauth2/v2.0/token`` (scope ``https://eventgrid.azure.net/.default``),
as azure-identity's ClientSecretCredential does, and kept per (tenant, client, secret)
until shortly before it expires: 5 minutes, or half its lifetime if that is shorter.
The secret is part of the key (as a digest) so a subscription with a wrong secret never
rides on a token another subscription got with the right one. Many threads asking for
the same token at once make one request: the others wait for it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from app.sinks.http import retry_after_seconds
from app.sinks.transport import Transport

SCOPE = "https://eventgrid.azure.net/.default"
REFRESH_MARGIN = 300.0  # s before expiry a cached token is replaced
_PERMANENT_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_request", "invalid_scope", "invalid_grant"}
)


@dataclass(frozen=True)
class ClientCredentials:
    """An Entra ID application (service principal) and the tenant it signs in to."""

    tenant: str
    client_id: str
    secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"ClientCredentials(tenant={self.tenant!r}, client_id={self.client_id!r})"


class TokenError(Exception):
    """Entra ID gave no token; ``retryable`` says whether asking again later can help."""

    def __init__(self, message: str, retryable: bool, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retryable, self.retry_after = retryable, retry_after


@dataclass
class _Cached:
    token: str
    refresh_at: float  # on ``clock``: from then on, fetch a new one


class TokenCache:
    """Fetches and caches Entra ID tokens over a shared ``Transport``; thread-safe."""

    def __init__(
        self,
        transport: Transport,
        authority: str,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport, self.authority = transport, authority.rstrip("/")
        self.refresh_margin, self.clock = refresh_margin, clock
        self._tokens: dict[tuple[str, str, str], _Cached] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, creds: ClientCredentials, deadline: float) -> str:
        """A valid token for ``creds``, fetched before ``deadline`` if none is cached."""
        key = _key(creds)
        # Waiting for the lock keeps within our deadline: the thread fetching under it
        # started earlier, with the same total timeout, so its own deadline comes first.
        with self._key_lock(key):
            cached = self._tokens.get(key)
            if cached is None or self.clock() >= cached.refresh_at:
                cached = self._fetch(creds, deadline)
                self._tokens[key] = cached
            return cached.token

    def invalidate(self, creds: ClientCredentials, token: str) -> None:
        """Forget ``token`` (refused by Event Grid), unless another thread replaced it already."""
        key = _key(creds)
        with self._key_lock(key):
            cached = self._tokens.get(key)
            if cached is not None and cached.token == token:
                del self._tokens[key]

    def _key_lock(self, key: tuple[str, str, str]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def _fetch(self, creds: ClientCredentials, deadline: float) -> _Cached:
        """POST the client-credentials grant and read the token and its lifetime."""
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.secret,
            "scope": SCOPE,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        url = f"{self.authority}/{creds.tenant}/oauth2/v2.0/token"
        answer = self.transport.post(url, urlencode(form).encode(), headers, deadline)
        body = _json(answer.body)
        if answer.status == 200 and isinstance(body.get("access_token"), str):
            lifetime = _number(body.get("expires_in"))
            margin = min(self.refresh_margin, lifetime / 2)
            return _Cached(body["access_token"], self.clock() + lifetime - margin)
        raise _refusal(answer.status, body, answer.headers.get("retry-after"))


def _key(creds: ClientCredentials) -> tuple[str, str, str]:
    digest = hashlib.sha256(creds.secret.encode("utf-8", "surrogateescape")).hexdigest()
    return creds.tenant, creds.client_id, digest


def _json(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _number(value: object) -> float:
    """``expires_in`` as seconds (Entra sends an integer; older endpoints a string)."""
    try:
        return max(float(value), 0.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _refusal(status: int, body: dict, retry_after: str | None) -> TokenError:
    """Why Entra ID gave no token: a bad tenant, client or secret is for good, busy is not."""
    error = str(body.get("error") or "no token in the answer")
    description = str(body.get("error_description") or "").splitlines()
    text = f"Entra ID token request failed ({status}): {error}"
    if description:
        text += f": {description[0]}"
    busy = status < 400 or status == 429 or status >= 500  # a 200 without a token: odd, transient
    retryable = busy and error not in _PERMANENT_ERRORS
    return TokenError(text, retryable, retry_after_seconds(retry_after))
