"""The egress guard: what a request to an address a user supplied may connect to (DESIGN §12).

Monitored website and feed URLs, an RSSHub or gateway the operator did not mark trusted, and
webhook targets all pass it. It refuses loopback, private, link-local, carrier-grade NAT,
unique-local, multicast, unspecified, reserved and cloud-metadata addresses (IPv4 and IPv6,
with the IPv4 address inside mapped, 6to4 and NAT64 forms judged as IPv4), unless the address
lies in a network the operator allowed (``LIVENESS_MONITOR_ALLOWED_NETWORKS``: sites on a
government intranet are real).

The check that holds is made at connect time, by :class:`GuardedResolver`, on the very answer
the connection uses (a name rebound between a check and the connection still cannot reach
inside), and by the transport for hosts written as addresses, which aiohttp never resolves;
redirects are new requests, so every hop passes both. :meth:`EgressGuard.url_refusal` is the
cheap check without DNS that registration and each request make first: scheme, credentials,
port, and a host that is itself a blocked address in any spelling a resolver accepts
(``0x7f000001``, ``127.1``, ``[::ffff:127.0.0.1]``, ``localhost``).

Trusted hosts (the simulator, ``LIVENESS_TRUSTED_UPSTREAMS``, configured proxies) are not
checked: the operator chose them. Behind a proxy the proxy resolves names, so its own rules
apply to them; addresses written in a URL are still refused here.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

if TYPE_CHECKING:
    from app.config import Settings

__all__ = [
    "BlockedURL",
    "EgressGuard",
    "GuardedResolver",
    "Refused",
    "blocked_reason",
    "literal_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance-metadata services: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
# The Fetch standard's "bad ports", which browsers refuse (SMTP, SSH, IRC …): no visitor can
# open a page there, and a request to one is a cross-protocol attack, not an inspection.
BAD_PORTS = frozenset(
    {0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95}
    | {101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161}
    | {179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563}
    | {587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060}
    | {5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What inet_aton, and so getaddrinfo, reads as an IPv4 address: 127.1, 0x7f000001, 0177.0.0.1.
_IPV4_SPELLING = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class BlockedURL(ValueError):
    """The URL may not be requested; the message says why, for a person to act on."""


class Refused(OSError):
    """Raised at connect time for a blocked address. It carries an errno, so aiohttp keeps
    the message in the ClientConnectorError it wraps it in."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EPERM, message)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where a router would deliver it there."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be connected to, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return blocked_reason(embedded)
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


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names by itself, in any spelling a resolver reads as one
    (``[::1]``, ``127.1``, ``0x7f000001``, ``2130706433``), or None for a name."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%")[0])  # a scope id is not part of it
    except ValueError:
        pass
    parts = host.split(".")
    if 1 <= len(parts) <= 4 and all(_IPV4_SPELLING.fullmatch(p) for p in parts):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _is_localhost(host: str) -> bool:
    # RFC 6761: localhost and every name under it are loopback, whatever DNS says.
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _origin(entry: str) -> tuple[str, int | None]:
    """(host, port) of a URL or a ``host[:port]``; port None when a bare host was given."""
    parts = urlsplit(entry if "//" in entry else f"//{entry}")
    if not parts.hostname:
        raise ValueError(f"{entry!r} names no host")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    return parts.hostname.lower(), port


def _proxy_hosts() -> list[str]:
    """Hosts of the HTTP(S)_PROXY settings: the connection goes to them, and they may be
    private ("no" is NO_PROXY, not a proxy)."""
    proxies = urllib.request.getproxies_environment()
    hosts = (urlsplit(url).hostname for scheme, url in proxies.items() if scheme != "no")
    return [host for host in hosts if host]


@dataclass(frozen=True, slots=True)
class EgressGuard:
    """What requests through this guard may connect to.

    ``allowed`` networks are connected to even when private; ``trusted`` (host, port) pairs
    (port None: any) are never checked; ``hint`` tells a refused person which setting lifts it.
    """

    allowed: tuple[IPNetwork, ...] = ()
    trusted: frozenset[tuple[str, int | None]] = frozenset()
    hint: str = "LIVENESS_MONITOR_ALLOWED_NETWORKS"

    @property
    def allows_everything(self) -> bool:
        """Whether no address is refused (``LIVENESS_WEBHOOK_ALLOW_PRIVATE``)."""
        return {network.version for network in self.allowed if network.prefixlen == 0} == {4, 6}

    @classmethod
    def trusting(cls, upstreams: Iterable[str]) -> EgressGuard:
        """A guard with these URLs' (or ``host[:port]``s') hosts trusted and nothing allowed."""
        return cls(trusted=frozenset(_origin(entry) for entry in upstreams))

    @classmethod
    def for_monitors(cls, settings: Settings, *, extra_trusted: Iterable[str] = ()) -> EgressGuard:
        """The guard of the upstream client: the simulator, ``LIVENESS_TRUSTED_UPSTREAMS``,
        the proxies and ``extra_trusted`` (a base URL given on the command line) are trusted;
        ``LIVENESS_MONITOR_ALLOWED_NETWORKS`` are allowed."""
        origins = [*settings.trusted_upstreams, *extra_trusted]
        if settings.simulator_url:
            origins.append(settings.simulator_url)
        trusted = {_origin(entry) for entry in origins} | {(h, None) for h in _proxy_hosts()}
        return cls(tuple(settings.monitor_allowed_networks), frozenset(trusted))

    @classmethod
    def for_webhooks(cls, settings: Settings) -> EgressGuard:
        """The guard of webhook deliveries: public addresses only, unless
        ``LIVENESS_WEBHOOK_ALLOW_PRIVATE`` allows every address; proxies are trusted."""
        allowed = (
            (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
            if settings.webhook_allow_private
            else ()
        )
        trusted = frozenset((host, None) for host in _proxy_hosts())
        return cls(allowed, trusted, hint="LIVENESS_WEBHOOK_ALLOW_PRIVATE=true")

    def trusts(self, host: str, port: int | None) -> bool:
        """Whether requests to ``host:port`` go unchecked (the operator's own upstreams)."""
        host = host.lower().strip("[]")
        return (host, None) in self.trusted or (host, port) in self.trusted

    def address_refusal(self, host: str, address: IPAddress) -> str | None:
        """Why ``host``, at ``address``, may not be connected to; None when it may."""
        judged = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        if any((judged or address) in network for network in self.allowed):
            return None
        reason = blocked_reason(address)
        if reason is None:
            return None
        where = f"{host} is" if host == str(address) else f"{host} resolves to {address},"
        return f"{where} {reason}; not connecting (allow its network with {self.hint})"

    def url_refusal(self, url: str) -> str | None:
        """Why ``url`` may not be requested, judged without DNS: not http(s), no host,
        credentials, an unusable port, or a host that is itself a blocked address."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            return f"the URL is not valid: {exc}"
        if parts.scheme not in _DEFAULT_PORTS:
            return "the URL must start with https:// or http://"
        host = parts.hostname
        if not host:
            return "the URL has no host"
        if parts.username is not None or parts.password is not None:
            return "the URL must not carry credentials (user:password@)"
        port = port if port is not None else _DEFAULT_PORTS[parts.scheme]
        if self.trusts(host, port):
            return None
        if port in BAD_PORTS:
            return f"port {port} is not a web port (browsers refuse it too)"
        address = literal_address(host)
        if address is None and _is_localhost(host):
            address = ipaddress.IPv4Address("127.0.0.1")
        return None if address is None else self.address_refusal(host, address)

    def check_url(self, url: str) -> None:
        """Raise BlockedURL with the reason :meth:`url_refusal` gives, if any."""
        reason = self.url_refusal(url)
        if reason is not None:
            raise BlockedURL(reason)

    async def check_resolved(self, url: str) -> None:
        """:meth:`check_url`, then every address the host resolves to: a readable refusal
        before a webhook delivery (the connection itself is guarded by the resolver)."""
        self.check_url(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        if self.allows_everything or self.trusts(host, port) or literal_address(host) is not None:
            return
        resolver = GuardedResolver(self)
        try:
            await resolver.resolve(host, port, socket.AF_UNSPEC)
        except Refused as exc:
            raise BlockedURL(exc.strerror) from None
        except OSError as exc:
            raise BlockedURL(f"the host {host} does not resolve: {exc}") from None
        finally:
            await resolver.close()


def _address(text: str) -> IPAddress:
    # Scope ids ("fe80::1%eth0") are not part of the address.
    return ipaddress.ip_address(text.split("%")[0])


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses, at connect time, a host whose answer holds an
    address the guard refuses; a host that resolves to several is refused if any one is."""

    def __init__(self, guard: EgressGuard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The inner resolver's answer; :class:`Refused` when an address in it is blocked."""
        if self._inner is None:  # made here: aiohttp's resolvers need the running loop
            self._inner = aiohttp.DefaultResolver()
        results = await self._inner.resolve(host, port, family)
        if self._guard.trusts(host, port):
            return results
        for result in results:
            reason = self._guard.address_refusal(host, _address(result["host"]))
            if reason is not None:
                raise Refused(reason)
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        if self._inner is not None:
            await self._inner.close()
