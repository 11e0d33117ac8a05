"""The private-address guard, pinned at connect time: resolve, check every address, dial it.

The guard lives in the connection layer (`PinnedBackend`): the host is
resolved once, every address is checked, and the socket is opened to the
checked address itself. Checking a name and then letting the library resolve
it again would leave a DNS-rebinding window between check and connect. TLS
still verifies the certificate against the host name (httpcore passes the
URL's host as SNI / server_hostname, not the address we dial).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final

import httpcore
import httpx

from bot.ingest.fetch.errors import os_error_text

__all__ = [
    "BLOCKED_NETWORKS",
    "AddressRefusedError",
    "PinnedBackend",
    "PinnedTransport",
    "Resolver",
    "classify_address",
    "resolve_host",
]

# An async function host, port -> IP address strings (IPv4 or IPv6), in the
# order to try them. Raises OSError (socket.gaierror) when the name is unknown.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where a feed may not point unless it sets allow_private (IANA special-purpose
# registries, RFC 6890). Checked in order; the first match names the reason.
BLOCKED_NETWORKS: Final[tuple[tuple[IPNetwork, str], ...]] = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("127.0.0.0/8", "a loopback address"),
        ("::1/128", "a loopback address"),
        ("0.0.0.0/8", "an unspecified address"),
        ("::/128", "an unspecified address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        # Includes 169.254.169.254, the cloud instance-metadata endpoint.
        ("169.254.0.0/16", "a link-local address"),
        ("fe80::/10", "a link-local address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("fc00::/7", "a unique-local address"),
        ("224.0.0.0/4", "a multicast address"),
        ("ff00::/8", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_NAT64_PREFIX: Final = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052


class AddressRefusedError(Exception):
    """A feed's host is, or resolves to, an address the guard does not allow."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        if _strip_brackets(host) == address:
            what = f"{address} is {reason}"
        else:
            what = f"{host} resolves to {address}, {reason}"
        super().__init__(f"refused: {what} (set allow_private: true to allow)")


async def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver (getaddrinfo), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def classify_address(
    address: str | IPAddress,
    blocked: Iterable[tuple[IPNetwork, str]] = BLOCKED_NETWORKS,
) -> str | None:
    """Why `address` is not a public address ("a loopback address", ...), or None.

    IPv4 addresses embedded in IPv6 (IPv4-mapped ::ffff:a.b.c.d, NAT64
    64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they reach.
    Anything else that is not globally routable (documentation, benchmarking and
    other special-purpose ranges) is refused too.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    blocked = tuple(blocked)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        inner: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64_PREFIX:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            reason = classify_address(inner, blocked)
            return None if reason is None else f"{reason} (IPv4 {inner})"
    for network, label in blocked:
        if ip.version == network.version and ip in network:
            return label
    if ip.is_global or _is_exempted(ip, blocked):
        return None
    return "not a public address"


def _is_exempted(ip: IPAddress, blocked: tuple[tuple[IPNetwork, str], ...]) -> bool:
    # A caller that removed a range from `blocked` (tests serving on loopback
    # through the guard) means it: do not refuse that range as "not public".
    default = {net for net, _ in BLOCKED_NETWORKS}
    removed = default - {net for net, _ in blocked}
    return any(ip.version == net.version and ip in net for net in removed)


def _strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to addresses resolved and checked here, never by name.

    `blocked=None` turns the check off (feeds with allow_private) but keeps the
    same resolver, so an injected resolver serves both kinds of feed.
    """

    def __init__(
        self, resolver: Resolver, blocked: tuple[tuple[IPNetwork, str], ...] | None
    ) -> None:
        self._resolver = resolver
        self._blocked = blocked
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        addresses = await self._resolve(host, port, timeout)
        if self._blocked is not None:
            # Refuse when any address is off limits, not just the first: a name
            # must not smuggle an internal address in behind a public one.
            for address in addresses:
                reason = classify_address(address, self._blocked)
                if reason is not None:
                    raise AddressRefusedError(host, address, reason)
        failures: list[str] = []
        for address in addresses:
            remaining = None if deadline is None else max(0.001, deadline - loop.time())
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                reason = os_error_text(exc)
                failures.append(reason if address == host else f"{address}: {reason}")
        raise httpcore.ConnectError("; ".join(failures))

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        host = _strip_brackets(host)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [host]  # an IP literal: nothing to resolve, nothing to race
        try:
            async with asyncio.timeout(timeout):
                answers = list(await self._resolver(host, port))
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host}") from None
        except OSError as exc:
            detail = exc.strerror or str(exc) or type(exc).__name__
            raise httpcore.ConnectError(f"could not resolve host name: {detail}") from exc
        addresses: list[str] = []
        for answer in answers:
            try:
                addresses.append(str(ipaddress.ip_address(answer)))
            except ValueError:
                raise httpcore.ConnectError(f"resolver gave {answer!r}, not an address") from None
        if not addresses:
            raise httpcore.ConnectError("could not resolve host name: no addresses")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never configured
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool built on `PinnedBackend`.

    AsyncHTTPTransport takes no network backend; its request handling only
    goes through `self._pool`, so the pool is replaced after construction.
    tests/test_fetch.py checks that connections really use the backend.
    """

    def __init__(self, backend: PinnedBackend, ssl_context: Any, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )
