"""Where a webhook may go: never a private, loopback, link-local or otherwise internal
address unless WEBHOOK_ALLOW_PRIVATE_TARGETS says so (development).

The name is resolved once and the request goes to the address that was checked (with the
original Host header and TLS server name), so DNS cannot swap in an internal address
between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

MAX_URL = 2000


class TargetRefused(Exception):
    """The URL may not be called; the message says why (shown to the API caller)."""


@dataclass(frozen=True)
class Target:
    url: str            # what is connected to: the scheme and a checked IP address
    host: str           # the original host name (Host header, TLS server name)
    host_header: str


def check_url(url: str, *, allow_private: bool) -> None:
    """Shape only (no DNS): an absolute https URL (http too in development)."""
    if len(url) > MAX_URL:
        raise TargetRefused(f"the URL is longer than {MAX_URL} characters")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused("the URL must start with https://")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("the URL must not carry credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise TargetRefused("the URL has an invalid port") from None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(url: str, *, allow_private: bool) -> Target:
    """The address to connect to for ``url``, or TargetRefused."""
    check_url(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise TargetRefused(f"the host {host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    allowed = addresses if allow_private else [a for a in addresses if _public(a)]
    if not allowed or (not allow_private and len(allowed) < len(addresses)):
        raise TargetRefused("the URL resolves to a private, loopback or link-local address")
    ip = allowed[0]
    netloc = f"[{ip}]" if ":" in ip else ip
    if parts.port:
        netloc += f":{parts.port}"
    host_header = host + (f":{parts.port}" if parts.port else "")
    return Target(url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                  host=host, host_header=host_header)
