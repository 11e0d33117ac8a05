"""The private-address guard (bot/ingest/fetch/guard.py, issue 7), through real fetches.

Every live request goes to 127.0.0.1; the tests that involve other addresses
use an injected resolver and are refused before any connect (and conftest's
tripwire fails a test that tries to leave loopback anyway). The policy itself
is tested in tests/config/test_addresses.py.
"""

from __future__ import annotations

import pytest

from bot.config.addresses import BLOCKED_NETWORKS
from bot.models import FeedConfig
from tests.ingest.fetch.fetching import RSS, FakeResolver, fetch_one
from tests.support.feedserver import FeedServer


def test_loopback_refused_without_allow_private(feed_server: FeedServer) -> None:
    feed_server.add("/feed.rss", RSS)
    feed = FeedConfig(id="sneaky", url=feed_server.url("/feed.rss"))
    result = fetch_one(feed)
    assert result.error == (
        "refused: 127.0.0.1 is a loopback address (set allow_private: true to allow)"
    )
    assert feed_server.requests() == []


@pytest.mark.parametrize(
    ("url", "error"),
    [
        pytest.param(
            "http://[::1]:8080/x", "refused: ::1 is a loopback address", id="ipv6-loopback"
        ),
        pytest.param(
            "http://169.254.169.254/latest/meta-data/",
            "refused: 169.254.169.254 is a link-local address",
            id="metadata-literal",
        ),
        pytest.param(
            "http://10.1.2.3/feed", "refused: 10.1.2.3 is a private address", id="10/8-literal"
        ),
        pytest.param(
            "http://[::ffff:192.168.0.1]/feed",
            "refused: ::ffff:192.168.0.1 is a private address (IPv4 192.168.0.1)",
            id="ipv4-mapped",
        ),
    ],
)
def test_ip_literals_refused_without_resolving(url: str, error: str) -> None:
    resolver = FakeResolver({})
    result = fetch_one(FeedConfig(id="lit", url=url), resolver=resolver)
    assert result.error == f"{error} (set allow_private: true to allow)"
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("url", "error"),
    [
        pytest.param(
            "http://2130706433/feed",
            "refused: 2130706433 resolves to 127.0.0.1, a loopback address",
            id="decimal",
        ),
        pytest.param(
            "http://0xa9fea9fe/latest/meta-data/",
            "refused: 0xa9fea9fe resolves to 169.254.169.254, a link-local address",
            id="hex-metadata",
        ),
        pytest.param(
            "http://feeds.localhost/feed", "refused: feeds.localhost is a loopback name", id="name"
        ),
    ],
)
def test_numeric_hosts_and_localhost_names_are_judged_without_resolving(
    url: str, error: str
) -> None:
    resolver = FakeResolver({})
    result = fetch_one(FeedConfig(id="num", url=url), resolver=resolver)
    assert result.error == f"{error} (set allow_private: true to allow)"
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("addresses", "refused", "reason"),
    [
        pytest.param(["10.0.0.5"], "10.0.0.5", "a private address", id="private"),
        pytest.param(["169.254.169.254"], "169.254.169.254", "a link-local address", id="metadata"),
        pytest.param(["::1"], "::1", "a loopback address", id="ipv6-loopback"),
        pytest.param(["fd12:3456::1"], "fd12:3456::1", "a unique-local address", id="ula"),
        pytest.param(
            ["100.64.0.9"], "100.64.0.9", "a shared (carrier-grade NAT) address", id="cgnat"
        ),
        pytest.param(
            ["93.184.215.14", "172.16.8.1"], "172.16.8.1", "a private address", id="one-of-two"
        ),
    ],
)
def test_names_resolving_to_internal_addresses_are_refused_before_connecting(
    addresses: list[str], refused: str, reason: str
) -> None:
    resolver = FakeResolver({"internal.example": addresses})
    feed = FeedConfig(id="ssrf", url="http://internal.example/feed.xml")
    result = fetch_one(feed, resolver=resolver)
    assert result.error == (
        f"refused: internal.example resolves to {refused}, {reason} "
        "(set allow_private: true to allow)"
    )
    assert resolver.calls == [("internal.example", 80)]


def test_a_redirect_hop_is_checked_too(feed_server: FeedServer) -> None:
    # The first hop must be allowed, but live traffic may only go to loopback:
    # run the guard with loopback removed from its table, so public.test (on
    # 127.0.0.1) passes and the redirect target is judged by the real rules.
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"]})
    loopback_ok = [(net, label) for net, label in BLOCKED_NETWORKS if label != "a loopback address"]
    feed_server.add("/start", redirect_to="http://metadata.test/latest/meta-data/")
    feed = FeedConfig(id="hop", url=f"http://public.test:{feed_server.port}/start")
    result = fetch_one(feed, resolver=resolver, blocked_networks=loopback_ok)
    assert result.error == (
        "refused: metadata.test resolves to 169.254.169.254, a link-local address "
        "(set allow_private: true to allow) (reached by redirect from "
        f"http://public.test:{feed_server.port}/start)"
    )
    assert resolver.calls == [("public.test", feed_server.port), ("metadata.test", 80)]
    assert [r.path for r in feed_server.requests()] == ["/start"]


def test_redirect_to_a_private_ip_literal_is_refused(feed_server: FeedServer) -> None:
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})
    loopback_ok = [(net, label) for net, label in BLOCKED_NETWORKS if label != "a loopback address"]
    feed_server.add("/start", redirect_to="http://192.168.1.1/admin")
    feed = FeedConfig(id="hop", url=f"http://public.test:{feed_server.port}/start")
    result = fetch_one(feed, resolver=resolver, blocked_networks=loopback_ok)
    assert result.error is not None
    assert result.error.startswith("refused: 192.168.1.1 is a private address")


def test_the_connection_goes_to_the_address_the_resolver_gave(feed_server: FeedServer) -> None:
    # feed.test can never resolve through real DNS (RFC 6761), so a success
    # proves the socket was opened to the checked address, not re-resolved.
    resolver = FakeResolver({"feed.test": ["127.0.0.1"]})
    feed_server.add("/pinned.rss", RSS)
    url = f"http://feed.test:{feed_server.port}/pinned.rss"
    result = fetch_one(FeedConfig(id="pin", url=url, allow_private=True), resolver=resolver)
    assert (result.ok, result.body) == (True, RSS)
    assert feed_server.requests()[0].header("host") == f"feed.test:{feed_server.port}"
    assert resolver.calls == [("feed.test", feed_server.port)]


def test_an_unknown_host_name() -> None:
    resolver = FakeResolver({})
    result = fetch_one(
        FeedConfig(id="nx", url="http://nowhere.test/feed", allow_private=True), resolver=resolver
    )
    assert result.error == (
        "could not connect to nowhere.test: could not resolve host name: Name or service not known"
    )
