"""Which hosts a feed may reach: the one private-address policy of config, overrides and fetch.

A feed may reach public addresses only (`PUBLIC_ONLY`): not a loopback,
private-network, link-local, cloud instance-metadata, shared (carrier-grade
NAT), multicast, reserved or otherwise non-public one. With `allow_private:
true` (`PRIVATE_ALLOWED`) it may reach all of those except link-local
addresses (169.254.0.0/16, fe80::/10) and the metadata endpoints
(`METADATA_NETWORKS`: 169.254.169.254, 169.254.170.2, fd00:ec2::254,
100.100.100.200), where a server on the bot's own machine hands out cloud
credentials. A feed's `allow_addresses` lists addresses or networks it may
reach whatever the rest says (`policy_for` builds a feed's policy). Three
places ask, and all ask here:

- the feeds.yaml checker (bot/config/sections/feeds.py) and `/brief feed add`
  (bot/config/overrides.py, which runs that checker) judge the URL's host,
  read by bot/config/hosts.py, with `refusal_for_host`; a name is not resolved
  there;
- the fetch guard (bot/ingest/fetch/guard.py) judges the host the same way,
  then every address a name resolves to (`classify_address`), at connect time.

Not obvious:
- IPv4 addresses carried in IPv6 are judged by the IPv4 address they reach,
  and the reason names it ("a loopback address (IPv4 127.0.0.1)"): IPv4-mapped
  ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d,
  6to4 2002::/16, Teredo 2001::/32 (the client's address, stored inverted in
  the last 32 bits) and NAT64, the well-known 64:ff9b::/96 and the local-use
  64:ff9b:1::/48 (RFC 8215; every place RFC 6052 may put the IPv4 address in
  is judged, see `_nat64_candidates`). Python's `is_global` calls ::a9fe:a9fe and 64:ff9b:1::/48
  global, which is why they are taken apart here. A NAT64 address of a public
  server is allowed (DNS64 hands those out on IPv6-only networks).
- Resolvers read inet_aton's numeric forms (`2130706433`, `0x7f.1`, `127.1`,
  `10.1`) as IPv4 addresses, so they are literals here too, judged by the
  address they stand for.
- A host is judged as bot/config/hosts.py reads it (UTS 46): `ｌｏｃａｌｈｏｓｔ`
  is localhost, `①②⑦.0.0.1` and `127。0。0。1` are 127.0.0.1.
- `localhost` and `*.localhost` are loopback names (RFC 6761 §6.3), refused
  without asking a resolver.
- `allowed` networks are checked before anything else, on the address and on
  the IPv4 address it carries: tests serving on loopback through the guard
  use `PUBLIC_ONLY.allowing(["127.0.0.0/8"])`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

from bot.config.hosts import InvalidHostError, normalize_host

__all__ = [
    "BLOCKED_NETWORKS",
    "METADATA_NETWORKS",
    "PRIVATE_ALLOWED",
    "PUBLIC_ONLY",
    "AddressPolicy",
    "HostRefusal",
    "IPAddress",
    "IPNetwork",
    "classify_address",
    "host_address",
    "ip_network",
    "policy_for",
    "refusal_for_host",
]

IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Table: TypeAlias = tuple[tuple[IPNetwork, str], ...]


def ip_network(text: str) -> IPNetwork:
    """An address ("169.254.169.254") or network ("10.0.0.0/8") as a network; ValueError."""
    return ipaddress.ip_network(text.strip(), strict=False)


def _table(rows: Iterable[tuple[str, str]]) -> Table:
    return tuple((ipaddress.ip_network(net), label) for net, label in rows)


_METADATA = "a cloud instance-metadata address"
# Instance-metadata endpoints (AWS, GCP, Azure, Oracle; AWS ECS tasks; AWS
# over IPv6; Alibaba Cloud): refused even with allow_private.
METADATA_NETWORKS: Final = _table(
    (net, _METADATA)
    for net in ("169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::254/128", "100.100.100.200/32")
)
_LINK_LOCAL: Final = _table(
    [("169.254.0.0/16", "a link-local address"), ("fe80::/10", "a link-local address")]
)

# Where a feed may not point unless it sets allow_private (IANA special-purpose
# registries, RFC 6890). Checked in order; the first match names the reason.
BLOCKED_NETWORKS: Final[Table] = (
    *METADATA_NETWORKS,
    *_table(
        [
            ("127.0.0.0/8", "a loopback address"),
            ("::1/128", "a loopback address"),
            ("0.0.0.0/8", "an unspecified address"),
            ("::/128", "an unspecified address"),
            ("10.0.0.0/8", "a private address"),
            ("172.16.0.0/12", "a private address"),
            ("192.168.0.0/16", "a private address"),
        ]
    ),
    *_LINK_LOCAL,
    *_table(
        [
            ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
            ("fc00::/7", "a unique-local address"),
            ("224.0.0.0/4", "a multicast address"),
            ("ff00::/8", "a multicast address"),
            ("240.0.0.0/4", "a reserved address"),
        ]
    ),
)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What a feed may reach.

    `blocked` is refused, the first match naming the reason; with
    `public_only`, anything else not globally routable is refused too;
    `allowed` (a feed's allow_addresses) is reachable whatever the rest says.
    """

    blocked: Table = BLOCKED_NETWORKS
    public_only: bool = True
    allowed: tuple[IPNetwork, ...] = ()

    def allowing(self, networks: Iterable[str | IPNetwork]) -> AddressPolicy:
        """This policy, with `networks` ("169.254.169.254", "10.0.0.0/8") reachable too."""
        extra = [ip_network(n) if isinstance(n, str) else n for n in networks]
        added = tuple(n for n in dict.fromkeys(extra) if n not in self.allowed)
        if not added:
            return self
        return AddressPolicy(self.blocked, self.public_only, self.allowed + added)


PUBLIC_ONLY: Final = AddressPolicy()
PRIVATE_ALLOWED: Final = AddressPolicy(
    blocked=(*METADATA_NETWORKS, *_LINK_LOCAL), public_only=False
)


def policy_for(
    allow_private: bool, allow_addresses: Iterable[str] = (), *, base: AddressPolicy = PUBLIC_ONLY
) -> AddressPolicy:
    """A feed's policy from its allow_private and allow_addresses.

    `base` is what a feed without allow_private gets (PUBLIC_ONLY, or a
    test's policy that lets loopback through); its `allowed` carries over.
    """
    policy = PRIVATE_ALLOWED.allowing(base.allowed) if allow_private else base
    return policy.allowing(allow_addresses)


_NAT64_WELL_KNOWN: Final = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE: Final = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215
_IPV4_COMPATIBLE: Final = ipaddress.ip_network("::/96")  # RFC 4291 §2.5.5.1, deprecated
_IPV4_TRANSLATED: Final = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765
# Characters of inet_aton's numeric IPv4 forms (decimal, octal, hex parts).
_NUMERIC_HOST: Final = re.compile(r"[0-9a-fx.]+")
_LOOPBACK: Final = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True, slots=True)
class HostRefusal:
    """Why a feed may not reach a host as written in its URL.

    `reason` is a label of the policy's table (with "(IPv4 a.b.c.d)" when an
    embedded address was judged), "not a public address", "a reserved
    address" or "a loopback name". `stands_for` is the address a numeric host
    such as 2130706433 stands for (127.0.0.1); None when the host is written
    as an address or is a name.
    """

    host: str
    reason: str
    stands_for: ipaddress.IPv4Address | None = None


def classify_address(address: str | IPAddress, policy: AddressPolicy = PUBLIC_ONLY) -> str | None:
    """Why `address` is not one a feed may reach ("a loopback address", ...), or None."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    if any(ip.version == net.version and ip in net for net in policy.allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        carried = embedded_ipv4(ip)
        if carried:
            for inner in carried:
                reason = classify_address(inner, policy)
                if reason is not None:
                    return f"{reason} (IPv4 {inner})"
            return None
    for network, label in policy.blocked:
        if ip.version == network.version and ip in network:
            return label
    if policy.public_only and not ip.is_global:
        return "not a public address"
    if policy.public_only and ip.is_reserved:
        return "a reserved address"
    return None


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches (empty when it is not such a form)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_TRANSLATED or ip in _NAT64_WELL_KNOWN:
        return [low32]
    if ip in _IPV4_COMPATIBLE:
        return [] if int(ip) <= 1 else [low32]  # :: and ::1 are themselves
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return [ip.teredo[1]]
    if ip in _NAT64_LOCAL_USE:
        return _nat64_candidates(int(ip))
    return []


def _nat64_candidates(value: int) -> list[ipaddress.IPv4Address]:
    """Where RFC 6052 §2.2 puts the IPv4 address for a /48, /56, /64 or /96 prefix.

    Which one a local translator uses is its operator's choice, so every place
    is judged: a refusal for any of them refuses the address. Bits 64-71 (the
    "u" octet) are never part of it. A place reading 0.0.0.0/8 (no translator
    forwards there) is taken as unused, which keeps the usual /96 addresses
    (64:ff9b:1::8.8.8.8, whose other places read 0.0.0.x) judged by their
    last 32 bits alone; when every place reads so, the last 32 bits are judged.
    """

    def bits(start: int, length: int) -> int:
        return (value >> (128 - start - length)) & ((1 << length) - 1)

    last = bits(96, 32)
    found = [
        bits(48, 16) << 16 | bits(72, 16),  # /48
        bits(56, 8) << 24 | bits(72, 24),  # /56
        bits(72, 32),  # /64
        last,  # /96
    ]
    used = [n for n in dict.fromkeys(found) if n >= 1 << 24] or [last]
    return [ipaddress.IPv4Address(n) for n in used]


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


def refusal_for_host(host: str, policy: AddressPolicy = PUBLIC_ONLY) -> HostRefusal | None:
    """Why a feed may not reach `host`, read as bot/config/hosts.py reads it, or None.

    None too for a name other than localhost's: what it resolves to is judged
    at connect time, by the fetch guard. A host that cannot be read at all is
    refused as "not a valid host name" (callers say why before asking).
    """
    try:
        lowered = normalize_host(host).rstrip(".")
    except InvalidHostError:
        return HostRefusal(host, "not a valid host name")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        if classify_address(_LOOPBACK, policy) is None:
            return None  # loopback is allowed by this policy
        return HostRefusal(host, "a loopback name")
    address = host_address(lowered)
    if address is None:
        return None
    reason = classify_address(address, policy)
    if reason is None:
        return None
    literal = lowered.removeprefix("[").removesuffix("]")
    stands_for = address if isinstance(address, ipaddress.IPv4Address) else None
    if stands_for is not None and str(stands_for) == literal:
        stands_for = None  # written as the address itself
    return HostRefusal(host, reason, stands_for)
