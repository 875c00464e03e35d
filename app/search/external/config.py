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

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

URL_SETTINGS = ("ELASTICSEARCH_URL", "OPENSEARCH_URL")


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
            problem = "ELASTICSEARCH_TIMEOUT must be a positive number of seconds"
        return found if problem is None else _with_problem(found, problem)

    @property
    def shown(self) -> str:
        """The URL as messages, logs and pages show it (no credentials, ever)."""
        return self.url

    @property
    def secrets(self) -> list[str]:
        """Every configured secret, to be starred out of anything shown."""
        return [s for s in (self.password, self.api_key) if s]

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
        if self.ca_certs and not os.path.isfile(self.ca_certs):
            return f"SEARCH_CA_CERTS names no readable file: {self.ca_certs}"
        return None


def _with_problem(found: ClusterConfig, problem: str) -> ClusterConfig:
    return ClusterConfig(**{**found.__dict__, "problem": problem})


def _seconds(value: Any) -> float | None:
    """A positive number of seconds (10 when unset), None when it is not one."""
    if value in (None, ""):
        return 10.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < float("inf") else None


def _part(value: str | None) -> str | None:
    return unquote(value) if value else None


def _has_port(netloc: str) -> bool:
    """Whether the URL's authority names a port at all (``host:`` or ``host:x``)."""
    return ":" in netloc.rpartition("@")[2].rpartition("]")[2]


def _flag(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off")
