"""SSRF guard: webhook URLs must not reach loopback, private, link-local or metadata addresses.

Checked when an endpoint is created or changed, and again before each delivery because DNS
answers change. A host that resolves to several addresses is refused if any one is blocked.
The check before a delivery gives a readable error; the one that holds is ``GuardedResolver``,
which the webhook client connects through: it checks the very answer the connection uses, so
a name that answers a public address to the check and a private one to the connection (DNS
rebinding) still cannot reach inside. ``LIVENESS_WEBHOOK_ALLOW_PRIVATE=true`` lifts the
address checks (local receivers, tests).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

__all__ = [
    "BlockedURL",
    "GuardedResolver",
    "blocked_reason",
    "check_url",
    "check_url_syntax",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata services: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class BlockedURL(ValueError):
    """The URL may not be used as a webhook target; the message says why."""


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be a webhook target, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    for reason, hit in (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
    ):
        if hit:
            return reason
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def check_url_syntax(url: str) -> str:
    """The host of an absolute http(s) URL without credentials; BlockedURL otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise BlockedURL(f"the URL is not valid: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedURL("the URL must start with https:// or http://")
    if not parts.hostname:
        raise BlockedURL("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BlockedURL("the URL must not carry credentials; deliveries are signed instead")
    return parts.hostname


def _address(text: str) -> IPAddress:
    # scope ids ("fe80::1%eth0") are not part of the address
    return ipaddress.ip_address(text.split("%")[0])


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedURL(f"the host {host} does not resolve: {exc}") from None
    return [_address(str(info[4][0])) for info in infos]


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse ``url`` (BlockedURL) unless every address its host resolves to is public."""
    host = check_url_syntax(url)
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in await _addresses(host, port):
        reason = blocked_reason(address)
        if reason is not None:
            raise BlockedURL(
                f"{host} resolves to {address}, {reason}; webhooks may only reach public "
                "addresses (set LIVENESS_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
            )


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses, at connect time, a host resolving to an address
    ``blocked_reason`` names. ``allowed`` hosts (the configured proxies) are not checked: the
    connection then goes to the proxy, which resolves the target itself."""

    def __init__(
        self, inner: AbstractResolver | None = None, *, allowed: Collection[str] = ()
    ) -> None:
        self._inner = inner
        self._allowed = frozenset(host.lower() for host in allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The inner resolver's answer; PermissionError when an address in it is blocked."""
        if self._inner is None:  # made here: aiohttp's resolvers need the running loop
            self._inner = aiohttp.DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        if host.lower() in self._allowed:
            return results
        for result in results:
            address = _address(result["host"])
            reason = blocked_reason(address)
            if reason is not None:
                # With an errno, aiohttp puts the message in its ClientConnectorError.
                message = f"{host} resolves to {address}, {reason}: not connecting"
                raise OSError(errno.EPERM, message)
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        if self._inner is not None:
            await self._inner.close()
