"""The private-address guard (bot/ingest/fetch/guard.py, issue 7), through real fetches.

Every live request goes to 127.0.0.1; the tests that involve other addresses
use an injected resolver and are refused before any connect (and conftest's
tripwire fails a test that tries to leave loopback anyway). The policy itself
is tested in tests/config/test_addresses.py.
"""

from __future__ import annotations

import pytest

from bot.config.addresses import PUBLIC_ONLY
from bot.models import FeedConfig
from tests.ingest.fetch.fetching import RSS, FakeResolver, fetch_one
from tests.support.feedserver import FeedServer

METADATA = "a cloud instance-metadata address"
# The first hop must be allowed, but live traffic may only go to loopback: such
# tests let loopback through as if it were public, and the rest of the policy
# judges the redirect targets.
LOOPBACK_AS_PUBLIC = PUBLIC_ONLY.allowing(["127.0.0.0/8"])


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
            "refused: 169.254.169.254 is a cloud instance-metadata address",
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
    assert result.error == f"{error} ({_hint(error)})"
    assert resolver.calls == []


def _hint(error: str) -> str:
    if "metadata" not in error:
        return "set allow_private: true to allow"
    return "list 169.254.169.254 in allow_addresses to allow"


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
            "refused: 0xa9fea9fe resolves to 169.254.169.254, a cloud instance-metadata address",
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
    assert result.error == f"{error} ({_hint(error)})"
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("addresses", "refused", "reason"),
    [
        pytest.param(["10.0.0.5"], "10.0.0.5", "a private address", id="private"),
        pytest.param(["169.254.169.254"], "169.254.169.254", METADATA, id="metadata"),
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
        f"refused: internal.example resolves to {refused}, {reason} ({_hint(reason)})"
    )
    assert resolver.calls == [("internal.example", 80)]


def test_a_redirect_hop_is_checked_too(feed_server: FeedServer) -> None:
    # public.test (on 127.0.0.1) passes; the redirect target is judged by the real rules.
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "metadata.test": ["169.254.169.254"]})
    feed_server.add("/start", redirect_to="http://metadata.test/latest/meta-data/")
    feed = FeedConfig(id="hop", url=f"http://public.test:{feed_server.port}/start")
    result = fetch_one(feed, resolver=resolver, policy=LOOPBACK_AS_PUBLIC)
    assert result.error == (
        "refused: metadata.test resolves to 169.254.169.254, a cloud instance-metadata address "
        "(list 169.254.169.254 in allow_addresses to allow) (reached by redirect from "
        f"http://public.test:{feed_server.port}/start)"
    )
    assert resolver.calls == [("public.test", feed_server.port), ("metadata.test", 80)]
    assert [r.path for r in feed_server.requests()] == ["/start"]


def test_redirect_to_a_private_ip_literal_is_refused(feed_server: FeedServer) -> None:
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})
    feed_server.add("/start", redirect_to="http://192.168.1.1/admin")
    feed = FeedConfig(id="hop", url=f"http://public.test:{feed_server.port}/start")
    result = fetch_one(feed, resolver=resolver, policy=LOOPBACK_AS_PUBLIC)
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


# IPv6 forms that reach IPv4 addresses (issue 12): (the address, the reason naming its IPv4)
IPV6_FORMS = [
    pytest.param("::a9fe:a9fe", f"{METADATA} (IPv4 169.254.169.254)", id="ipv4-compatible"),
    pytest.param("::ffff:0:a00:1", "a private address (IPv4 10.0.0.1)", id="ipv4-translated"),
    pytest.param("64:ff9b::a00:1", "a private address (IPv4 10.0.0.1)", id="nat64"),
    pytest.param(
        "64:ff9b:1::a9fe:a9fe", f"{METADATA} (IPv4 169.254.169.254)", id="nat64-local-use"
    ),
    pytest.param("2002:c0a8:101::1", "a private address (IPv4 192.168.1.1)", id="6to4"),
    pytest.param(
        "2001:0:4136:e378:8000:63bf:5601:5601",
        f"{METADATA} (IPv4 169.254.169.254)",
        id="teredo",
    ),
]


@pytest.mark.parametrize(("address", "reason"), IPV6_FORMS)
def test_a_redirect_to_an_ipv6_form_of_an_internal_address_is_refused(
    feed_server: FeedServer, address: str, reason: str
) -> None:
    resolver = FakeResolver({"public.test": ["127.0.0.1"]})
    feed_server.add("/start", redirect_to=f"http://[{address}]/latest/meta-data/")
    start = f"http://public.test:{feed_server.port}/start"
    result = fetch_one(
        FeedConfig(id="hop", url=start), resolver=resolver, policy=LOOPBACK_AS_PUBLIC
    )
    assert result.error == (
        f"refused: {address} is {reason} ({_hint(reason)}) (reached by redirect from {start})"
    )
    assert [r.path for r in feed_server.requests()] == ["/start"]


@pytest.mark.parametrize(("address", "reason"), IPV6_FORMS)
def test_a_name_resolving_to_an_ipv6_form_of_an_internal_address_is_refused(
    address: str, reason: str
) -> None:
    resolver = FakeResolver({"feeds.example": ["2606:4700:4700::1111", address]})
    result = fetch_one(FeedConfig(id="dns", url="http://feeds.example/rss"), resolver=resolver)
    assert result.error == (
        f"refused: feeds.example resolves to {address}, {reason} ({_hint(reason)})"
    )


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        pytest.param("http://169.254.169.254/latest/meta-data/", "169.254.169.254", id="aws"),
        pytest.param("http://169.254.170.2/v2/credentials", "169.254.170.2", id="ecs"),
        pytest.param("http://100.100.100.200/latest/meta-data/", "100.100.100.200", id="alibaba"),
        pytest.param("http://[fd00:ec2::254]/latest/", "fd00:ec2::254", id="aws-ipv6"),
        pytest.param("http://[64:ff9b::a9fe:a9fe]/latest/", "64:ff9b::a9fe:a9fe", id="nat64"),
    ],
)
def test_allow_private_does_not_reach_metadata_by_redirect(
    feed_server: FeedServer, target: str, refused: str
) -> None:
    feed_server.add("/start", redirect_to=target)
    feed = FeedConfig(id="intranet", url=feed_server.url("/start"), allow_private=True)
    result = fetch_one(feed, resolver=FakeResolver({}))
    assert result.error is not None
    assert result.error.startswith(f"refused: {refused} is a cloud instance-metadata address")
    listed = "169.254.169.254" if refused.startswith("64:ff9b") else refused
    assert f"(list {listed} in allow_addresses to allow) (reached by redirect from " in result.error
    assert [r.path for r in feed_server.requests()] == ["/start"]


def test_allow_private_does_not_reach_link_local_names() -> None:
    resolver = FakeResolver({"printer.lan": ["fe80::1"], "router.lan": ["169.254.0.1"]})
    for host, address in (("printer.lan", "fe80::1"), ("router.lan", "169.254.0.1")):
        feed = FeedConfig(id="lan", url=f"http://{host}/feed", allow_private=True)
        assert fetch_one(feed, resolver=resolver).error == (
            f"refused: {host} resolves to {address}, a link-local address "
            f"(list {address} in allow_addresses to allow)"
        )


def test_allow_addresses_lets_exactly_those_through(feed_server: FeedServer) -> None:
    feed_server.add("/feed.rss", RSS)
    feed_server.add("/away", redirect_to="http://10.0.0.1/feed.rss")
    listed = FeedConfig(id="one", url=feed_server.url("/feed.rss"), allow_addresses=("127.0.0.1",))
    assert (fetch_one(listed).ok, fetch_one(listed).body) == (True, RSS)
    away = FeedConfig(id="two", url=feed_server.url("/away"), allow_addresses=("127.0.0.1",))
    error = fetch_one(away).error
    assert error is not None and error.startswith("refused: 10.0.0.1 is a private address")


def test_a_host_is_read_by_uts46_before_it_is_judged_and_resolved(feed_server: FeedServer) -> None:
    feed_server.add("/pinned.rss", RSS)
    resolver = FakeResolver({"feed.test": ["127.0.0.1"]})
    url = f"http://ＦＥＥＤ．ｔｅｓｔ:{feed_server.port}/pinned.rss"
    result = fetch_one(FeedConfig(id="wide", url=url), resolver=resolver, policy=LOOPBACK_AS_PUBLIC)
    assert (result.ok, result.body) == (True, RSS)
    assert resolver.calls == [("feed.test", feed_server.port)]

    for host, error in [
        ("ｌｏｃａｌｈｏｓｔ", "refused: localhost is a loopback name"),
        ("①②⑦.0.0.1", "refused: 127.0.0.1 is a loopback address"),
        ("127。0。0。1", "refused: 127.0.0.1 is a loopback address"),
    ]:
        url = f"http://{host}:{feed_server.port}/pinned.rss"
        result = fetch_one(FeedConfig(id="wide", url=url), resolver=resolver)
        assert result.error == f"{error} (set allow_private: true to allow)"
    bad = fetch_one(FeedConfig(id="bad", url="http://a%0d%0ab.example/"), resolver=resolver)
    assert bad.error is not None and "a%0d%0ab.example is not a valid host name" in bad.error
    assert resolver.calls == [("feed.test", feed_server.port)]
    assert len(feed_server.requests()) == 1
