"""Where a subscription may send: no http in production, nothing inside our own network.

An integrator chooses the URL, so a subscription is a way to make the notifier issue POSTs —
to the cloud's metadata service (169.254.169.254), to the database's port on localhost, to a
private admin panel. Every address the host resolves to must be a public one (``is_global``,
not multicast; an IPv4 address mapped into IPv6 is judged as IPv4). The check runs when the
subscription is created and again before every delivery and test: a name that resolved to a
public address yesterday may resolve to 127.0.0.1 today (DNS rebinding). Redirects are never
followed (httpx's default), so a public receiver cannot bounce us inwards either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class UnsafeDestination(Exception):
    """The URL may not receive webhooks; the message says why (safe to show the caller)."""


@dataclass(frozen=True)
class DestinationRules:
    allow_http: bool = False
    """Plain http (development: local receivers); production accepts only https."""
    allow_private: bool = False
    """Loopback, private, link-local and other non-public addresses (development only)."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url_form(url: str, rules: DestinationRules) -> tuple[str, int]:
    """The host and port of an acceptable URL (scheme, host, no credentials), else raise."""
    parts = urlsplit(url)
    schemes = ("https", "http") if rules.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeDestination(f"the URL must use {' or '.join(schemes)}")
    if not parts.hostname:
        raise UnsafeDestination("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeDestination("the URL must not carry credentials; we sign instead")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeDestination("the URL's port is not a number in range") from exc
    return parts.hostname, port


async def check_destination(url: str, rules: DestinationRules) -> None:
    """Refuse a URL whose scheme or any resolved address the rules do not allow."""
    host, port = check_url_form(url, rules)
    if rules.allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeDestination(f"the host {host!r} does not resolve") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise UnsafeDestination(f"the host {host!r} does not resolve")
    for address in addresses:
        if not _public(address):
            raise UnsafeDestination(
                f"the host {host!r} resolves to {address}, which is not a public address"
            )
