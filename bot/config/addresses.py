"""Which hosts a feed may reach: the one private-address policy of config, overrides and fetch.

Without `allow_private`, a feed may not reach a loopback, private-network,
link-local (169.254.169.254, the cloud instance-metadata endpoint, included),
shared (carrier-grade NAT), multicast, reserved or otherwise non-public
address. Three places ask, and all ask here:

- the feeds.yaml checker (bot/config/sections/feeds.py) and `/brief feed add`
  (bot/config/overrides.py, which runs that checker) judge the URL's host as
  written, with `refusal_for_host`; a name is not resolved there;
- the fetch guard (bot/ingest/fetch/guard.py) judges the host the same way,
  then every address a name resolves to (`classify_address`), at connect time.

Not obvious:
- IPv4 addresses embedded in IPv6 (IPv4-mapped ::ffff:a.b.c.d, NAT64
  64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they reach: a
  NAT64 address of a public server is allowed (DNS64 hands those out on
  IPv6-only networks), one of 10.0.0.1 is not.
- Resolvers read inet_aton's numeric forms (`2130706433`, `0x7f.1`, `127.1`,
  `10.1`) as IPv4 addresses, so they are literals here too, judged by the
  address they stand for.
- `localhost` and `*.localhost` are loopback names (RFC 6761 §6.3), refused
  without asking a resolver.
- Anything else that is not globally routable (documentation, benchmarking and
  other special-purpose ranges) is refused, and so is IPv6's reserved space
  (Python's `is_reserved`), which holds the IPv4-compatible ::a.b.c.d and the
  local-use NAT64 prefix 64:ff9b:1::/48.
- `blocked` may be a reduced table (tests serving on loopback through the
  guard): a range removed from it is then allowed, not refused as "not public".
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "BLOCKED_NETWORKS",
    "HostRefusal",
    "IPAddress",
    "IPNetwork",
    "classify_address",
    "host_address",
    "refusal_for_host",
]

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

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
# Characters of inet_aton's numeric IPv4 forms (decimal, octal, hex parts).
_NUMERIC_HOST: Final = re.compile(r"[0-9a-fx.]+")
_LOOPBACK: Final = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True, slots=True)
class HostRefusal:
    """Why a feed may not reach a host as written in its URL.

    `reason` is a label of BLOCKED_NETWORKS (with "(IPv4 a.b.c.d)" when an
    embedded address was judged), "not a public address", "a reserved
    address" or "a loopback name". `stands_for` is the address a numeric host
    such as 2130706433 stands for (127.0.0.1); None when the host is written
    as an address or is a name.
    """

    host: str
    reason: str
    stands_for: ipaddress.IPv4Address | None = None


def classify_address(
    address: str | IPAddress,
    blocked: Iterable[tuple[IPNetwork, str]] = BLOCKED_NETWORKS,
) -> str | None:
    """Why `address` is not one a feed may reach ("a loopback address", ...), or None."""
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
    if _is_exempted(ip, blocked):
        return None
    if not ip.is_global:
        return "not a public address"
    if ip.is_reserved:
        return "a reserved address"
    return None


def _is_exempted(ip: IPAddress, blocked: tuple[tuple[IPNetwork, str], ...]) -> bool:
    # A caller that removed a range from `blocked` (tests serving on loopback
    # through the guard) means it: do not refuse that range as "not public".
    default = {net for net, _ in BLOCKED_NETWORKS}
    removed = default - {net for net, _ in blocked}
    return any(ip.version == net.version and ip in net for net in removed)


def host_address(host: str) -> IPAddress | None:
    """The address a URL host stands for without asking a resolver; None for a name.

    An IP literal (bracketed or not; an IPv6 zone is allowed) or one of
    inet_aton's numeric IPv4 forms (decimal, octal, hex, fewer than four parts).
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(text.lower()) or not any(c.isdigit() for c in text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def refusal_for_host(
    host: str, blocked: Iterable[tuple[IPNetwork, str]] = BLOCKED_NETWORKS
) -> HostRefusal | None:
    """Why a feed may not reach `host` as written in its URL, or None.

    None too for a name other than localhost's: what it resolves to is judged
    at connect time, by the fetch guard.
    """
    blocked = tuple(blocked)
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        if classify_address(_LOOPBACK, blocked) is None:
            return None  # loopback is allowed by this (reduced) table
        return HostRefusal(host, "a loopback name")
    address = host_address(lowered)
    if address is None:
        return None
    reason = classify_address(address, blocked)
    if reason is None:
        return None
    literal = lowered.removeprefix("[").removesuffix("]")
    stands_for = address if isinstance(address, ipaddress.IPv4Address) else None
    if stands_for is not None and str(stands_for) == literal:
        stands_for = None  # written as the address itself
    return HostRefusal(host, reason, stands_for)
