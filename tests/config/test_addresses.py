"""The one private-address policy (bot/config/addresses.py) and its three users.

The table at the end runs the same hosts through the feeds.yaml checker, the
check of a feed added from Slack and the fetch guard, and asserts that all
three refuse the same ones for the same reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Sequence

import pytest

from bot.config.addresses import BLOCKED_NETWORKS, classify_address, refusal_for_host
from bot.config.model import ConfigError
from bot.config.overrides import OverrideError, check_feed
from bot.config.schema import parse_config_text
from bot.ingest.fetch.guard import AddressRefusedError, resolve_checked
from bot.store.ports import AddedFeed


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
        ("169.254.169.254", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("fc00::1", "a unique-local address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.10", "not a public address"),
        ("::ffff:10.0.0.1", "a private address (IPv4 10.0.0.1)"),
        ("64:ff9b::a9fe:a9fe", "a link-local address (IPv4 169.254.169.254)"),
        ("2002:7f00:1::1", "a loopback address (IPv4 127.0.0.1)"),
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
    ("169.254.169.254", "a link-local address"),  # cloud instance metadata
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
    ("2002:a9fe:a9fe::1", "a link-local address (IPv4 169.254.169.254)"),
    ("2002:808:808::1", None),
    # NAT64 (RFC 6052): judged by the IPv4 address, so DNS64 answers for public hosts pass
    ("64:ff9b::a9fe:a9fe", "a link-local address (IPv4 169.254.169.254)"),
    ("64:ff9b::808:808", None),
    # IPv4-compatible and the local-use NAT64 prefix (RFC 8215): IPv6 reserved space
    ("::a9fe:a9fe", "a reserved address"),
    ("64:ff9b:1::a9fe:a9fe", "a reserved address"),
    # inet_aton's numeric forms, which resolvers read as IPv4
    ("2130706433", "a loopback address"),
    ("0x7f.1", "a loopback address"),
    ("127.1", "a loopback address"),
    ("0177.0.0.1", "a loopback address"),
    ("10.1", "a private address"),
    ("0xa9fea9fe", "a link-local address"),
    ("134744072", None),
    # names
    ("localhost", "a loopback name"),
    ("feeds.localhost", "a loopback name"),
    ("example.org", None),
]


async def _public_resolver(host: str, port: int) -> Sequence[str]:
    """Names resolve to a public address; the table's verdicts on names are their own."""
    if host == "example.org":
        return ["93.184.215.14"]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _url(host: str) -> str:
    return f"http://[{host}]/feed.xml" if ":" in host else f"http://{host}/feed.xml"


def _config_says(host: str) -> str | None:
    document = {"feeds": [{"id": "probe", "url": _url(host)}]}
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


def _fetch_guard_says(host: str) -> str | None:
    try:
        asyncio.run(resolve_checked(host, 80, _public_resolver))
    except AddressRefusedError as err:
        return err.reason
    return None


@pytest.mark.parametrize(("host", "reason"), HOSTS)
def test_config_overrides_and_fetch_agree_on_every_host(host: str, reason: str | None) -> None:
    config, overrides, fetch = _config_says(host), _overrides_say(host), _fetch_guard_says(host)
    if reason is None:
        assert (config, overrides, fetch) == (None, None, None)
        return
    assert fetch == reason
    refusal = refusal_for_host(host)
    assert refusal is not None and refusal.reason == reason
    assert config is not None and f"url host {host} is " in config
    assert overrides is not None and f"url host {host} is " in overrides
    assert "allow_private: true" in config and "cannot have it" in overrides
