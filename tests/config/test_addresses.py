"""The one private-address policy (bot/config/addresses.py) and its three users.

The tables at the end run the same hosts through the feeds.yaml checker, the
check of a feed added from Slack and the fetch guard, and assert that all
three refuse the same ones for the same reason: once for a feed without
allow_private, once for feeds with allow_private or allow_addresses (which
Slack cannot give, so there the checker and the guard).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Sequence

import pytest

from bot.config.addresses import (
    BLOCKED_NETWORKS,
    PRIVATE_ALLOWED,
    PUBLIC_ONLY,
    AddressPolicy,
    classify_address,
    policy_for,
    refusal_for_host,
)
from bot.config.model import ConfigError
from bot.config.overrides import OverrideError, check_feed
from bot.config.schema import parse_config_text
from bot.ingest.fetch.guard import AddressRefusedError, resolve_checked
from bot.store.ports import AddedFeed

METADATA = "a cloud instance-metadata address"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.255.255.255", "a private address"),
        ("172.31.0.1", "a private address"),
        ("172.32.0.1", None),
        ("192.168.10.20", "a private address"),
        ("169.254.169.254", "a cloud instance-metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("fc00::1", "a unique-local address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.10", "not a public address"),
        ("::ffff:10.0.0.1", "a private address (IPv4 10.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
        ("2002:7f00:1::1", "a loopback address (IPv4 127.0.0.1)"),
        ("::a9fe:a9fe", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a loopback address (IPv4 127.0.0.1)"),
        ("::ffff:8.8.8.8", None),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_classify_address(address: str, reason: str | None) -> None:
    assert classify_address(address) == reason


def test_blocked_table_covers_the_issue_7_ranges() -> None:
    required = ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]
    required += ["::1/128", "fc00::/7"]
    table = {net for net, _ in BLOCKED_NETWORKS}
    assert {ipaddress.ip_network(n) for n in required} <= table


# (host as written in a feed URL, the policy's reason or None when a feed may reach it)
HOSTS = [
    # IPv4
    ("127.0.0.1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.8.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("100.64.0.9", "a shared (carrier-grade NAT) address"),
    ("169.254.169.254", "a cloud instance-metadata address"),  # AWS, GCP, Azure, Oracle
    ("169.254.170.2", "a cloud instance-metadata address"),  # AWS ECS task metadata
    ("100.100.100.200", "a cloud instance-metadata address"),  # Alibaba Cloud
    ("169.254.10.1", "a link-local address"),
    ("0.0.0.0", "an unspecified address"),
    ("224.0.0.1", "a multicast address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.2.10", "not a public address"),
    ("8.8.8.8", None),
    ("93.184.215.14", None),
    # IPv6
    ("::1", "a loopback address"),
    ("::", "an unspecified address"),
    ("fe80::1", "a link-local address"),
    ("fd00:ec2::254", "a cloud instance-metadata address"),  # AWS over IPv6
    ("fd00::1", "a unique-local address"),
    ("ff02::1", "a multicast address"),
    ("2001:db8::1", "not a public address"),
    ("2606:4700:4700::1111", None),
    # IPv4-mapped
    ("::ffff:127.0.0.1", "a loopback address (IPv4 127.0.0.1)"),
    ("::ffff:10.0.0.1", "a private address (IPv4 10.0.0.1)"),
    ("::ffff:8.8.8.8", None),
    # 6to4
    ("2002:7f00:1::1", "a loopback address (IPv4 127.0.0.1)"),
    ("2002:a9fe:a9fe::1", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
    ("2002:808:808::1", None),
    # NAT64 (RFC 6052): judged by the IPv4 address, so DNS64 answers for public hosts pass
    ("64:ff9b::a9fe:a9fe", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
    ("64:ff9b::808:808", None),
    # the local-use NAT64 prefix (RFC 8215), which Python calls global: every RFC 6052 place
    ("64:ff9b:1::a9fe:a9fe", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
    ("64:ff9b:1::a00:1", "a private address (IPv4 10.0.0.1)"),
    ("64:ff9b:1:a9fe:a9:fe00::", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
    ("64:ff9b:1:7f00:0:100::", "a loopback address (IPv4 127.0.0.1)"),
    ("64:ff9b:1::808:808", None),
    # IPv4-compatible (deprecated, and global to Python) and IPv4-translated
    ("::a9fe:a9fe", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
    ("::7f00:1", "a loopback address (IPv4 127.0.0.1)"),
    ("::c0a8:101", "a private address (IPv4 192.168.1.1)"),
    ("::808:808", None),
    ("::ffff:0:a9fe:a9fe", "a cloud instance-metadata address (IPv4 169.254.169.254)"),
    # Teredo (2001::/32): the client's address, inverted, in the last 32 bits
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a loopback address (IPv4 127.0.0.1)"),
    (
        "2001:0:4136:e378:8000:63bf:5601:5601",
        "a cloud instance-metadata address (IPv4 169.254.169.254)",
    ),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a private address (IPv4 10.0.0.1)"),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),
    # inet_aton's numeric forms, which resolvers read as IPv4
    ("2130706433", "a loopback address"),
    ("0x7f.1", "a loopback address"),
    ("127.1", "a loopback address"),
    ("0177.0.0.1", "a loopback address"),
    ("10.1", "a private address"),
    ("0xa9fea9fe", "a cloud instance-metadata address"),
    ("134744072", None),
    # names
    ("localhost", "a loopback name"),
    ("feeds.localhost", "a loopback name"),
    ("example.org", None),
    # read as a resolver is asked for them (UTS 46), not as typed
    ("ｌｏｃａｌｈｏｓｔ", "a loopback name"),
    ("ＬＯＣＡＬＨＯＳＴ.", "a loopback name"),
    ("①②⑦.0.0.1", "a loopback address"),
    ("127。0。0。1", "a loopback address"),
    ("１６９．２５４．１６９．２５４", "a cloud instance-metadata address"),
    ("ｅｘａｍｐｌｅ.org", None),
]


async def _public_resolver(host: str, port: int) -> Sequence[str]:
    """Names resolve to a public address; the table's verdicts on names are their own."""
    if host == "localhost":
        return ["127.0.0.1"]
    if host in ("example.org", "intranet.example"):
        return ["93.184.215.14"]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _url(host: str) -> str:
    return f"http://[{host}]/feed.xml" if ":" in host else f"http://{host}/feed.xml"


def _config_says(host: str, **settings: object) -> str | None:
    document = {"feeds": [{"id": "probe", "url": _url(host), **settings}]}
    try:
        parse_config_text(json.dumps(document), "feeds.yaml", env={})
    except ConfigError as err:
        return str(err)
    return None


def _overrides_say(host: str) -> str | None:
    try:
        check_feed("probe", AddedFeed(url=_url(host)))
    except OverrideError as err:
        return str(err)
    return None


def _fetch_guard_says(host: str, policy: AddressPolicy = PUBLIC_ONLY) -> str | None:
    try:
        asyncio.run(resolve_checked(host, 80, _public_resolver, policy))
    except AddressRefusedError as err:
        return err.reason
    return None


def _in_config_words(reason: str) -> str:
    """feeds.yaml calls private and unique-local addresses "private-network" ones."""
    for label in ("a private address", "a unique-local address"):
        reason = reason.replace(label, "a private-network address")
    return reason


def _needs_allow_addresses(reason: str) -> bool:
    return reason.startswith(("a link-local address", "a cloud instance-metadata address"))


@pytest.mark.parametrize(("host", "reason"), HOSTS)
def test_config_overrides_and_fetch_agree_on_every_host(host: str, reason: str | None) -> None:
    config, overrides, fetch = _config_says(host), _overrides_say(host), _fetch_guard_says(host)
    if reason is None:
        assert (config, overrides, fetch) == (None, None, None)
        return
    assert fetch == reason
    refusal = refusal_for_host(host)
    assert refusal is not None and refusal.reason == reason
    assert config is not None and f"url host {host.lower()}" in config
    assert overrides is not None and f"url host {host.lower()}" in overrides
    assert f"{_in_config_words(reason)}; " in config
    if _needs_allow_addresses(reason):
        assert "only when allow_addresses lists them (allow_private: true is not enough)" in config
    else:
        assert "only with allow_private: true" in config
    assert "feeds added from Slack cannot have allow_private or allow_addresses" in overrides


# (host, what a feed with allow_private: true gets, the address that allow_addresses lists)
PRIVATE_HOSTS = [
    ("127.0.0.1", None, ""),
    ("localhost", None, ""),
    ("10.1.2.3", None, ""),
    ("fd00::1", None, ""),
    ("100.64.0.9", None, ""),
    ("224.0.0.1", None, ""),
    ("169.254.169.254", "a cloud instance-metadata address", "169.254.169.254"),
    ("169.254.170.2", "a cloud instance-metadata address", "169.254.170.2"),
    ("100.100.100.200", "a cloud instance-metadata address", "100.100.100.200"),
    ("fd00:ec2::254", "a cloud instance-metadata address", "fd00:ec2::254"),
    ("169.254.10.1", "a link-local address", "169.254.0.0/16"),
    ("fe80::1", "a link-local address", "fe80::1"),
    ("0xa9fea9fe", "a cloud instance-metadata address", "169.254.169.254"),
    ("１６９．２５４．１６９．２５４", "a cloud instance-metadata address", "169.254.169.254"),
    # carried in IPv6: still refused, and let through by listing the IPv4 address
    ("::ffff:169.254.169.254", f"{METADATA} (IPv4 169.254.169.254)", "169.254.169.254"),
    ("::a9fe:a9fe", f"{METADATA} (IPv4 169.254.169.254)", "169.254.169.254"),
    ("64:ff9b::a9fe:a9fe", f"{METADATA} (IPv4 169.254.169.254)", "169.254.169.254"),
    ("64:ff9b:1::a9fe:a9fe", f"{METADATA} (IPv4 169.254.169.254)", "169.254.169.254"),
    ("2002:a9fe:a9fe::1", f"{METADATA} (IPv4 169.254.169.254)", "169.254.169.254"),
    (
        "2001:0:4136:e378:8000:63bf:5601:5601",
        f"{METADATA} (IPv4 169.254.169.254)",
        "169.254.169.254",
    ),
    (
        "2001:0:4136:e378:8000:63bf:5601:f5fe",
        "a link-local address (IPv4 169.254.10.1)",
        "169.254.10.1",
    ),
]


@pytest.mark.parametrize(("host", "reason", "listed"), PRIVATE_HOSTS)
def test_allow_private_does_not_reach_link_local_or_metadata_addresses(
    host: str, reason: str | None, listed: str
) -> None:
    config = _config_says(host, allow_private=True)
    fetch = _fetch_guard_says(host, policy_for(True))
    if reason is None:
        assert (config, fetch) == (None, None)
        return
    assert fetch == reason
    assert config is not None and f"url host {host}" in config and f"{reason}; " in config
    assert "only when allow_addresses lists them (allow_private: true is not enough)" in config

    config = _config_says(host, allow_private=True, allow_addresses=[listed])
    assert (config, _fetch_guard_says(host, policy_for(True, [listed]))) == (None, None)
    # allow_addresses alone is enough, and lets nothing else through
    assert _config_says(host, allow_addresses=[listed]) is None
    assert _fetch_guard_says(host, policy_for(False, [listed])) is None
    assert _fetch_guard_says("10.1.2.3", policy_for(False, [listed])) == "a private address"


def test_allow_addresses_takes_addresses_and_networks_not_names() -> None:
    assert _config_says("10.20.1.5", allow_addresses=["10.20.0.0/16"]) is None
    refused = _config_says("10.21.0.1", allow_addresses=["10.20.0.0/16"])
    assert refused is not None and "url host 10.21.0.1 is a private-network address" in refused
    wrong = _config_says("8.8.8.8", allow_addresses=["metadata.internal", "10.0.0.0/33"])
    assert wrong is not None
    assert "allow_addresses entry 'metadata.internal' must be an IP address or network" in wrong
    assert "allow_addresses entry '10.0.0.0/33' must be an IP address or network" in wrong
    config = parse_config_text(
        json.dumps(
            {
                "feeds": [
                    {
                        "id": "meta",
                        "url": "http://169.254.169.254/latest/",
                        "allow_addresses": ["169.254.169.254/32", "10.1.0.0/16", "fd00:ec2::254"],
                    }
                ]
            }
        ),
        "feeds.yaml",
        env={},
    )
    [feed] = config.feeds
    assert feed.allow_addresses == ("169.254.169.254", "10.1.0.0/16", "fd00:ec2::254")
    assert not feed.allow_private


def test_a_name_resolving_to_metadata_is_refused_even_with_allow_private() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["64:ff9b::a9fe:a9fe"]

    with pytest.raises(AddressRefusedError) as refused:
        asyncio.run(resolve_checked("intranet.example", 80, resolver, policy_for(True)))
    assert str(refused.value) == (
        "refused: intranet.example resolves to 64:ff9b::a9fe:a9fe, a cloud "
        "instance-metadata address (IPv4 169.254.169.254) "
        "(list 169.254.169.254 in allow_addresses to allow)"
    )
    allowed = policy_for(True, ["169.254.169.254"])
    assert asyncio.run(resolve_checked("intranet.example", 80, resolver, allowed)) == [
        "64:ff9b::a9fe:a9fe"
    ]


def test_the_private_policy_refuses_only_link_local_and_metadata() -> None:
    assert {label for _, label in PRIVATE_ALLOWED.blocked} == {
        METADATA,
        "a link-local address",
    }
    assert not PRIVATE_ALLOWED.public_only
