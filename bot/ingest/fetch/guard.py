"""The private-address guard, pinned at connect time: resolve, check every address, dial it.

What a feed may reach is bot/config/addresses.py's policy (`AddressPolicy`: the
feed's own, from allow_private and allow_addresses); this module applies it
where it cannot be dodged, in the connection layer (`PinnedBackend`): the host
is read by bot/config/hosts.py and judged, resolved once, every address is
checked, and the socket is opened to the checked address itself (`pinned_dialer`,
the dialer of wire.py's pool). Checking a name and then letting a library
resolve it again would leave a DNS-rebinding window between check and
connect. TLS still verifies the certificate against the host name (the URL's
host is the SNI / server_hostname, not the address we dial).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

from bot.config.addresses import (
    PRIVATE_ALLOWED,
    PUBLIC_ONLY,
    AddressPolicy,
    classify_address,
    host_address,
    refusal_for_host,
)
from bot.config.hosts import InvalidHostError, normalize_host
from bot.ingest.fetch.errors import os_error_text
from bot.ingest.fetch.wire import ConnectError, ConnectTimeout, Dialer, Origin

__all__ = [
    "AddressRefusedError",
    "Resolver",
    "pinned_dialer",
    "resolve_checked",
    "resolve_host",
]

# An async function host, port -> IP address strings (IPv4 or IPv6), in the
# order to try them. Raises OSError (socket.gaierror) when the name is unknown.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class AddressRefusedError(Exception):
    """A feed's host is, or resolves to, an address the guard does not allow.

    `address` is None when the host itself is refused as written (an address
    literal, or a loopback name). The text ends with what would allow it:
    allow_private, or for link-local and metadata addresses, which
    allow_private does not cover, allow_addresses.
    """

    def __init__(self, host: str, address: str | None, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        shown = _strip_brackets(host)
        if address is None or shown == address:
            what = f"{shown} is {reason}"
        else:
            what = f"{host} resolves to {address}, {reason}"
        target = address or shown
        if refusal_for_host(target, PRIVATE_ALLOWED) is None:
            hint = "set allow_private: true to allow"
        else:
            # An IPv4 address carried in IPv6 is listed as itself: that covers every form.
            _, carried, inner = reason.rpartition("(IPv4 ")
            hint = f"list {inner.rstrip(')') if carried else target} in allow_addresses to allow"
        super().__init__(f"refused: {what} ({hint})")


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


async def resolve_checked(
    host: str,
    port: int,
    resolver: Resolver = resolve_host,
    policy: AddressPolicy = PUBLIC_ONLY,
    timeout: float | None = None,
) -> list[str]:
    """The addresses to dial for `host`, each one a feed may reach by `policy`; the guard's check.

    Raises AddressRefusedError when the host as written, or any address it
    resolves to, is refused; wire.py's ConnectError / ConnectTimeout when it
    does not resolve.
    """
    try:
        host = normalize_host(host)  # a FeedURL's host is read already; a direct call's not
    except InvalidHostError as exc:
        raise ConnectError(str(exc)) from None
    refusal = refusal_for_host(host, policy)
    if refusal is not None:
        shown = None if refusal.stands_for is None else str(refusal.stands_for)
        raise AddressRefusedError(host, shown, refusal.reason)
    addresses = await _resolve(host, port, resolver, timeout)
    # Refuse when any address is off limits, not just the first: a name
    # must not smuggle an internal address in behind a public one.
    for address in addresses:
        reason = classify_address(address, policy)
        if reason is not None:
            raise AddressRefusedError(host, address, reason)
    return addresses


async def _resolve(host: str, port: int, resolver: Resolver, timeout: float | None) -> list[str]:
    host = _strip_brackets(host)
    literal = host_address(host)
    if literal is not None:
        # Nothing to resolve, nothing to race: an IP literal is dialled as
        # written, a numeric form (2130706433) as the address it stands for.
        return [host if _is_ip_literal(host) else str(literal)]
    try:
        async with asyncio.timeout(timeout):
            answers = list(await resolver(host, port))
    except TimeoutError:
        raise ConnectTimeout(f"resolving {host}") from None
    except OSError as exc:
        detail = exc.strerror or str(exc) or type(exc).__name__
        raise ConnectError(f"could not resolve host name: {detail}") from exc
    addresses: list[str] = []
    for answer in answers:
        try:
            addresses.append(str(ipaddress.ip_address(answer)))
        except ValueError:
            raise ConnectError(f"resolver gave {answer!r}, not an address") from None
    if not addresses:
        raise ConnectError("could not resolve host name: no addresses")
    return addresses


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def pinned_dialer(
    resolver: Resolver, policy: AddressPolicy, tls: Callable[[], ssl.SSLContext]
) -> Dialer:
    """How a pool opens connections: to the addresses `resolve_checked` allowed, in turn.

    `tls` gives the TLS context, asked for only when an https origin is dialled
    (an http-only poll never loads the CA bundle). A TLS failure is not retried
    on the host's next address: the certificate is the host's, not the address's.
    """

    async def dial(
        origin: Origin, timeout: float | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        addresses = await resolve_checked(host, port, resolver, policy, timeout)
        context = tls() if scheme == b"https" else None
        failures: list[str] = []
        for address in addresses:
            remaining = None if deadline is None else max(0.001, deadline - loop.time())
            try:
                async with asyncio.timeout(remaining):
                    return await asyncio.open_connection(
                        address,
                        port,
                        ssl=context,
                        server_hostname=_strip_brackets(host) if context else None,
                    )
            except TimeoutError:
                raise ConnectTimeout(f"connecting to {host}") from None
            except ssl.SSLError as exc:
                raise ConnectError(str(exc)) from exc
            except OSError as exc:
                reason = os_error_text(exc)
                failures.append(reason if address == host else f"{address}: {reason}")
        raise ConnectError("; ".join(failures))

    return dial
