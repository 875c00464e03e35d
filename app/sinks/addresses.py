"""Which network addresses a delivery may reach: the guard against SSRF.

Loopback, private, link-local, shared, multicast, reserved and cloud-metadata
addresses are refused unless they fall inside DELIVERY_ALLOWED_NETWORKS. The
check runs when a subscription is saved (every address the host resolves to) and
at delivery time for every new connection, the first hop and each redirect alike,
on the very address about to be dialled (the http transport checks it in libcurl's
socket-opening callback; the broker sinks before connecting and on the connected
peer), so neither a redirect nor a DNS answer that changed since the check
(rebinding) can reach inside.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA = (ipaddress.ip_network("169.254.169.254/32"), ipaddress.ip_network("fd00:ec2::254/128"))


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDRs, or raise ValueError naming the bad one."""
    parsed = []
    for cidr in cidrs:
        try:
            parsed.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"DELIVERY_ALLOWED_NETWORKS: {cidr!r} is not a CIDR") from None
    return tuple(parsed)


def forbidden(address: str, allowed: Sequence[Network]) -> str | None:
    """Why ``address`` may not be reached (e.g. "a private address"), or None if it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed):
        return None
    checks = (
        (any(ip in net for net in METADATA), "a cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified or ip.is_reserved, "a reserved address"),
        (ip.is_private or not ip.is_global, "a private address"),
    )
    return next((why for hit, why in checks if hit), None)


def refusal(addresses: Iterable[str], allowed: Sequence[Network]) -> str | None:
    """What a sink reports when the policy forbids one of ``addresses`` (the first), or None.

    Every sink that dials a recipient's host checks each address it resolved to before
    dialling any, and the connected peer after; this is the one wording of a refusal.
    """
    for address in addresses:
        why = forbidden(address, allowed)
        if why:
            return f"refused to deliver to {address}: {why}"
    return None


def check_host(host: str, port: int, allowed: Sequence[Network]) -> str | None:
    """Why ``host`` may not be subscribed to, or None; a host that does not resolve passes.

    It will fail at delivery, retryably, and be checked there again.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    for info in infos:
        address = str(info[4][0])
        why = forbidden(address, allowed)
        if why:
            return f"{host} resolves to {address}, {why}; allow it with DELIVERY_ALLOWED_NETWORKS"
    return None
