"""Reads the Redis Sentinel settings: a ``redis+sentinel://`` URL or ``REDIS_SENTINELS``.

Two equivalent forms (``from_config``):

- ``REDIS_URL=redis+sentinel://[[username]:password@]host[:port][,host[:port]…]/service[/db]``
  (port 26379 by default, IPv6 hosts in brackets, user and password percent-encoded);
- ``REDIS_SENTINELS=host[:port],…`` with ``REDIS_SENTINEL_MASTER=service`` and optional
  ``REDIS_PASSWORD`` and ``REDIS_DB``.

The user and password are the primary's (and its replicas'); ``REDIS_SENTINEL_PASSWORD``
is the sentinels' own, in either form. Every mistake is a ValueError that names the
setting and never shows the password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

SCHEME = "redis+sentinel://"
DEFAULT_PORT = 26379


@dataclass(frozen=True)
class SentinelSettings:
    """Where the sentinels are, which primary they watch, and how to sign in to it."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    def url(self) -> str:
        """This configuration as a ``redis+sentinel://`` URL (without the sentinels' password)."""
        auth = ""
        if self.username or self.password:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.sentinels)
        return f"{SCHEME}{auth}{hosts}/{quote(self.service, safe='')}/{self.db}"


def is_sentinel_url(url: str | None) -> bool:
    """Whether ``url`` names Sentinel rather than one server."""
    return url is not None and url.lower().startswith(SCHEME)


def parse_url(url: str, sentinel_password: str | None = None) -> SentinelSettings:
    """Parse a ``redis+sentinel://`` URL; a ValueError names what is wrong (never the password)."""
    if not is_sentinel_url(url):
        raise ValueError(f"a Sentinel URL starts with {SCHEME!r}, got {_masked(url)!r}")
    rest = url[len(SCHEME) :]
    if "?" in rest or "#" in rest:
        raise ValueError(
            f"Sentinel URL {_masked(url)!r}: query strings and fragments are not supported "
            "(the sentinels' password goes in REDIS_SENTINEL_PASSWORD)"
        )
    netloc, _, path = rest.partition("/")
    auth, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) or None
        if not colon:
            raise ValueError(
                f"Sentinel URL {_masked(url)!r}: write the password as ':password@' "
                "(or 'user:password@')"
            )
    service, db = _service_and_db(path, url)
    return SentinelSettings(
        _hosts(hosts, f"Sentinel URL {_masked(url)!r}"),
        service,
        db,
        username,
        password,
        sentinel_password or None,
    )


def from_config(config: Mapping[str, Any]) -> SentinelSettings | None:
    """The Sentinel settings of an app's config, or None when it uses one server or none.

    Mixing the two forms, or a setting that the chosen form would ignore, is a
    ValueError at start-up rather than a surprise at the first connection.
    """
    url = config.get("REDIS_URL") or None
    if config.get("REDIS_SENTINELS"):
        if url:
            raise ValueError("set REDIS_URL or REDIS_SENTINELS, not both")
        return _from_settings(config)
    stray = [k for k in ("REDIS_SENTINEL_MASTER", "REDIS_PASSWORD", "REDIS_DB") if config.get(k)]
    if stray:
        raise ValueError(f"{', '.join(stray)} apply only with REDIS_SENTINELS (or use REDIS_URL)")
    sentinel_password = config.get("REDIS_SENTINEL_PASSWORD") or None
    if url is not None and url.lower().startswith("rediss+sentinel://"):
        raise ValueError("TLS through Sentinel (rediss+sentinel://) is not supported")
    if is_sentinel_url(url):
        return parse_url(url, sentinel_password)
    if sentinel_password:
        raise ValueError(
            "REDIS_SENTINEL_PASSWORD is set, but Redis is not reached through Sentinel"
        )
    return None


def _from_settings(config: Mapping[str, Any]) -> SentinelSettings:
    """The ``REDIS_SENTINELS`` form: the hosts, the service and the primary's password and db."""
    service = (config.get("REDIS_SENTINEL_MASTER") or "").strip()
    if not service:
        raise ValueError("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the primary's service name")
    hosts = config["REDIS_SENTINELS"]
    return SentinelSettings(
        _hosts(hosts if isinstance(hosts, str) else ",".join(hosts), "REDIS_SENTINELS"),
        service,
        _db(config.get("REDIS_DB"), "REDIS_DB"),
        None,
        config.get("REDIS_PASSWORD") or None,
        config.get("REDIS_SENTINEL_PASSWORD") or None,
    )


def _hosts(listed: str, where: str) -> tuple[tuple[str, int], ...]:
    """Parse ``host[:port],…`` (IPv6 in brackets) into pairs; at least one is required."""
    pairs = [_host(part.strip(), where) for part in listed.split(",") if part.strip()]
    if not pairs:
        raise ValueError(f"{where}: no sentinel host given")
    return tuple(pairs)


def _host(text: str, where: str) -> tuple[str, int]:
    """Parse one ``host[:port]`` or ``[v6]:port``."""
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise ValueError(f"{where}: bad bracketed IPv6 address {text!r}")
        port = port[1:]
    elif text.count(":") > 1:
        raise ValueError(f"{where}: put the IPv6 address {text!r} in brackets: [addr]:port")
    else:
        host, _, port = text.partition(":")
    if not host:
        raise ValueError(f"{where}: empty host in {text!r}")
    if not port:
        return host, DEFAULT_PORT
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"{where}: port must be 1-65535, got {port!r} in {text!r}")
    return host, int(port)


def _service_and_db(path: str, url: str) -> tuple[str, int]:
    """Split ``service[/db]`` off a URL's path."""
    parts = path.rstrip("/").split("/") if path.strip("/") else []
    if not parts or not parts[0]:
        raise ValueError(f"Sentinel URL {_masked(url)!r}: name the service, as in /mymaster")
    if len(parts) > 2:
        raise ValueError(f"Sentinel URL {_masked(url)!r}: the path is /service[/db], got /{path}")
    db = _db(parts[1] if len(parts) == 2 else None, f"Sentinel URL {_masked(url)!r}: db")
    return unquote(parts[0]), db


def _db(value: object, where: str) -> int:
    """A database number: a non-negative integer (0 when unset)."""
    if value is None or value == "":
        return 0
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
    return int(text)


def _masked(url: str) -> str:
    """``url`` with any password replaced by ``***``, for error messages and logs."""
    head, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    auth, at, hosts = netloc.rpartition("@")
    if not (sep and at and ":" in auth):
        return url
    return f"{head}://{auth.partition(':')[0]}:***@{hosts}{slash}{path}"
