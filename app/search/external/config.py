"""Where the external cluster is and how to reach it: URL, credentials, TLS, timeout.

``ELASTICSEARCH_URL`` or ``OPENSEARCH_URL`` names the cluster (either name: the engine
is detected, not assumed from the setting's name). Credentials come from
``SEARCH_USERNAME``/``SEARCH_PASSWORD`` (or the URL's ``user:password@``) or
``SEARCH_API_KEY``; TLS trusts ``SEARCH_CA_CERTS`` (a PEM file) besides the system's
roots, and ``SEARCH_VERIFY_CERTS=false`` turns verification off. Secrets never leave
this object: ``url`` has no userinfo, ``shown`` is what messages print, and
``mask`` stars out a secret that an error message may still carry.

A setting that cannot work (both URLs, a scheme that is not http(s), a CA file that
is missing) is not an exception: ``problem`` says why, and the backend reports external
search as unavailable for that reason while everything else keeps working.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

URL_SETTINGS = ("ELASTICSEARCH_URL", "OPENSEARCH_URL")
MAX_TIMEOUT = 3600.0  # s; also keeps deadlines within what a thread can wait for
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")  # what http.client refuses in a request line
_API_KEY = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class ClusterConfig:
    """One external cluster's connection settings (secrets kept out of ``repr``)."""

    url: str  # scheme://host:port/path, never with userinfo
    setting: str  # the setting that named it
    timeout: float = 10.0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True
    problem: str | None = None  # why these settings cannot work, if they cannot

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClusterConfig | None:
        """The cluster the config names, or None when neither URL is set."""
        named = [(name, str(config.get(name) or "").strip()) for name in URL_SETTINGS]
        named = [(name, value) for name, value in named if value]
        if not named:
            return None
        setting, raw = named[0]
        parts = urlsplit(raw)
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            port = None
        netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        timeout = _seconds(config.get("ELASTICSEARCH_TIMEOUT"))
        found = cls(
            url=urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")),
            setting=setting,
            timeout=timeout or 10.0,
            username=str(config.get("SEARCH_USERNAME") or "") or _part(parts.username),
            password=str(config.get("SEARCH_PASSWORD") or "") or _part(parts.password),
            api_key=str(config.get("SEARCH_API_KEY") or "") or None,
            ca_certs=str(config.get("SEARCH_CA_CERTS") or "") or None,
            verify_certs=_flag(config.get("SEARCH_VERIFY_CERTS", True)),
        )
        problem = found._problem(named, parts.scheme, host)
        if problem is None and port is None and _has_port(parts.netloc):
            problem = f"{setting} has a port that is not a number from 1 to 65535"
        if problem is None and timeout is None:
            problem = (
                f"ELASTICSEARCH_TIMEOUT must be a positive number of seconds, "
                f"at most {MAX_TIMEOUT:g}"
            )
        return found if problem is None else _with_problem(found, problem)

    @property
    def shown(self) -> str:
        """The URL as messages, logs and pages show it (no credentials, ever)."""
        return self.url

    @property
    def secrets(self) -> list[str]:
        """Every configured secret, to be starred out of anything shown."""
        header = self.authorization().get("Authorization", "").partition(" ")[2]
        return [s for s in (self.password, self.api_key, header) if s]

    def authorization(self) -> dict[str, str]:
        """The Authorization header the credentials make (none without credentials).

        Basic credentials are UTF-8 (RFC 7617), as Elasticsearch and OpenSearch read
        them; urllib3's ``make_headers``, which opensearch-py uses, would encode them
        as Latin-1 and fail on a password with a euro sign.
        """
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        if self.username and self.password:
            pair = f"{self.username}:{self.password}".encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {}

    def mask(self, text: str) -> str:
        """``text`` with every secret starred out (a client's error may quote a header)."""
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text

    def _problem(self, named: list[tuple[str, str]], scheme: str, host: str) -> str | None:
        if len(named) > 1:
            return "both ELASTICSEARCH_URL and OPENSEARCH_URL are set: set only one"
        if scheme not in ("http", "https") or not host:
            return f"{self.setting} must be an http:// or https:// URL with a host"
        if self.api_key and (self.username or self.password):
            return "both SEARCH_API_KEY and a username/password are set: use one"
        if bool(self.username) != bool(self.password):
            return "SEARCH_USERNAME and SEARCH_PASSWORD must be set together"
        if _UNSENDABLE.search(self.url):
            return f"{self.setting} has a space or a control character"
        for name, value in (
            ("SEARCH_USERNAME", self.username),
            ("SEARCH_PASSWORD", self.password),
        ):
            if value and _CONTROL.search(value):
                return f"{name} has a control character, which no HTTP header can carry"
            if value and not _utf8(value):
                return f"{name} is not valid UTF-8 (the environment held undecodable bytes)"
        if self.username and ":" in self.username:
            return "SEARCH_USERNAME cannot contain ':' (HTTP basic auth splits on it)"
        if self.api_key and not _API_KEY.fullmatch(self.api_key):
            return "SEARCH_API_KEY must be the encoded key the cluster gave (printable ASCII)"
        if self.ca_certs and not os.path.isfile(self.ca_certs):
            return f"SEARCH_CA_CERTS names no readable file: {self.ca_certs}"
        return None


def _utf8(value: str) -> bool:
    """Whether ``value`` encodes as UTF-8: a lone surrogate (from undecodable bytes in
    the environment, which Python keeps as surrogates) does not, and basic auth needs it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _with_problem(found: ClusterConfig, problem: str) -> ClusterConfig:
    return ClusterConfig(**{**found.__dict__, "problem": problem})


def _seconds(value: Any) -> float | None:
    """Positive seconds up to an hour (10 when unset), None when it is not that."""
    if value in (None, ""):
        return 10.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_TIMEOUT else None


def _part(value: str | None) -> str | None:
    return unquote(value) if value else None


def _has_port(netloc: str) -> bool:
    """Whether the URL's authority names a port at all (``host:`` or ``host:x``)."""
    return ":" in netloc.rpartition("@")[2].rpartition("]")[2]


def _flag(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off")
