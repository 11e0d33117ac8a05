"""`/brief feed add`: the host read as it will be fetched, judged, and the feed tried before saving.

The runtime here (`web`, conftest.py) fetches as the bot does, through the
address guard, except that its resolver is a table (`news.example` and
friends resolve to the loopback feed server) and loopback counts as public
(tests/support/network.py): so a feed added from Slack can be fetched at all,
and everything else of the policy still applies. Each test reads the reply
and then the store: a refused feed leaves no override, no feed state and no
item behind.
"""

from __future__ import annotations

import pytest

from bot.app.runtime import Runtime
from tests.app.commands.cases import ADMIN, NEW, run
from tests.support.feedgen import make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver


def _nothing_saved(runtime: Runtime) -> None:
    assert runtime.store.overrides.feeds() == {}
    assert [f.id for f in runtime.config.feeds] == ["trade", "quiet"]
    assert set(runtime.store.feed_states.all()) == {"trade", "quiet"}
    assert {item.feed_id for item in runtime.store.items.after()} <= {"trade", "quiet"}


def test_feed_add_tries_the_feed_and_says_what_it_found(
    web: Runtime, feeds: FeedServer, resolver: FakeResolver
) -> None:
    feeds.add("/added/wire.xml", make_rss(NEW, title="Trade <wire> & news"))
    url = f"http://news.example:{feeds.port}/added/wire.xml"
    before = len(feeds.requests("/added/wire.xml"))

    reply = run(web, f"feed add {url} chips", user=ADMIN)

    assert reply == (
        "Added Trade <wire> & news: 3 items. "
        f"Feed news-example-added-wire ({url}), polled every 30m. Its first poll is kept "
        "as backlog, not alerted. /brief feed poll news-example-added-wire polls it now."
    )
    assert len(feeds.requests("/added/wire.xml")) == before + 1
    assert ("news.example", feeds.port) in resolver.calls
    [(feed_id, change)] = web.store.overrides.feeds().items()
    assert feed_id == "news-example-added-wire"
    assert change.added is not None and (change.added.url, change.added.tags) == (url, ("chips",))
    assert change.by == ADMIN
    # Tried, not stored: the first real poll stores the backlog, as for any new feed.
    assert "news-example-added-wire" not in web.store.feed_states.all()
    assert all(item.feed_id != feed_id for item in web.store.items.after())
    reply = run(web, f"feed poll {feed_id}", user=ADMIN)
    assert f"• {feed_id}: 3 stored as backlog (a first poll: not alerted)" in reply


def test_an_empty_feed_is_added_and_says_so(web: Runtime, feeds: FeedServer) -> None:
    feeds.add("/added/empty.xml", make_rss([], title=""))
    url = f"http://wire.example:{feeds.port}/added/empty.xml"
    reply = run(web, f"feed add {url}", user=ADMIN)
    assert reply.startswith(
        "Added wire-example-added-empty: 0 items. Feed wire-example-added-empty"
    )


@pytest.mark.parametrize(
    ("path", "host", "error"),
    [
        pytest.param("/gone.xml", "news.example", "HTTP 404 Not Found", id="404"),
        pytest.param("/page.html", "news.example", "not a feed", id="html"),
        pytest.param(
            "/feed.xml",
            "nowhere.example",
            "could not connect to nowhere.example:PORT: could not resolve host name",
            id="unknown-name",
        ),
        pytest.param(
            "/feed.xml",
            "intranet.example",
            "refused: intranet.example resolves to 10.0.0.7, a private address "
            "(set allow_private: true to allow) "
            "(a feed added from Slack cannot have those settings)",
            id="private-name",
        ),
        pytest.param(
            "/feed.xml",
            "sneaky.example",
            "refused: sneaky.example resolves to ::a9fe:a9fe, a cloud instance-metadata "
            "address (IPv4 169.254.169.254) (list 169.254.169.254 in allow_addresses to allow)",
            id="ipv4-compatible-answer",
        ),
        pytest.param(
            "/to-metadata",
            "redirector.example",
            "refused: 169.254.169.254 is a cloud instance-metadata address "
            "(list 169.254.169.254 in allow_addresses to allow) (reached by redirect from "
            "http://redirector.example:PORT/to-metadata)",
            id="redirect-to-metadata",
        ),
        pytest.param(
            "/to-nat64",
            "redirector.example",
            "refused: 64:ff9b:1::a9fe:a9fe is a cloud instance-metadata address "
            "(IPv4 169.254.169.254)",
            id="redirect-to-local-nat64",
        ),
    ],
)
def test_a_feed_that_cannot_be_fetched_is_refused_with_the_error_and_not_saved(
    web: Runtime, feeds: FeedServer, path: str, host: str, error: str
) -> None:
    feeds.add("/page.html", b"<!doctype html><html><body>Hello</body></html>")
    feeds.add("/to-metadata", redirect_to="http://169.254.169.254/latest/meta-data/")
    feeds.add("/to-nat64", redirect_to="http://[64:ff9b:1::a9fe:a9fe]/latest/meta-data/")
    url = f"http://{host}:{feeds.port}{path}"

    reply = run(web, f"feed add {url}", user=ADMIN)

    assert reply.startswith(f"Cannot add {url}: ")
    assert f"{error.replace('PORT', str(feeds.port))}" in reply
    assert reply.endswith(". Nothing was saved.")  # no usage line: the command was right
    _nothing_saved(web)


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        pytest.param(
            "ｌｏｃａｌｈｏｓｔ", "(read as localhost) is a loopback name", id="full-width"
        ),
        pytest.param("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "(read as localhost) is a loopback name", id="circled"),
        pytest.param("①②⑦.0.0.1", "(read as 127.0.0.1) is a loopback address", id="circled-ip"),
        pytest.param(
            "127。0。0。1", "(read as 127.0.0.1) is a loopback address", id="ideographic-stops"
        ),
        pytest.param("224.0.0.1", "url host 224.0.0.1 is a multicast address", id="multicast"),
        pytest.param("[ff02::1]", "url host ff02::1 is a multicast address", id="multicast-v6"),
        pytest.param(
            "a%0d%0ab.example",
            "a%0d%0ab.example is not a valid host name: it has a percent-encoded character",
            id="percent-crlf",
        ),
        pytest.param(
            "[::a9fe:a9fe]",
            "is a cloud instance-metadata address (IPv4 169.254.169.254)",
            id="ipv4-compatible",
        ),
        pytest.param(
            "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
            "is a loopback address (IPv4 127.0.0.1)",
            id="teredo",
        ),
        pytest.param("xn--zz.example", "xn--zz is not valid punycode", id="bad-punycode"),
    ],
)
def test_feed_add_reads_the_host_as_it_would_be_fetched_and_refuses_what_the_guard_would(
    web: Runtime, feeds: FeedServer, resolver: FakeResolver, host: str, problem: str
) -> None:
    url = f"http://{host}:{feeds.port}/feed.xml"
    requests_before = len(feeds.requests())

    reply = run(web, f"feed add {url}", user=ADMIN)

    assert reply.startswith(f"cannot add {url}: url ")
    assert problem in reply
    assert resolver.calls == []
    assert len(feeds.requests()) == requests_before
    _nothing_saved(web)


def test_a_host_typed_in_full_width_is_saved_as_it_is_fetched(
    web: Runtime, feeds: FeedServer
) -> None:
    feeds.add("/added/wide.xml", make_rss(NEW, title="Wide"))
    typed = f"http://ｎｅｗｓ．ｅｘａｍｐｌｅ:{feeds.port}/added/wide.xml"
    url = f"http://news.example:{feeds.port}/added/wide.xml"

    reply = run(web, f"feed add {typed}", user=ADMIN)

    assert reply.startswith(f"Added Wide: 3 items. Feed news-example-added-wide ({url})")
    feed = web.config.feed("news-example-added-wide")
    assert feed is not None and feed.url == url
    again = run(web, f"feed add {url}", user=ADMIN)
    assert again.startswith(f"cannot add {url}: {url} is already feed news-example-added-wide")


def test_a_name_that_resolves_elsewhere_later_is_still_refused_when_polled(
    web: Runtime, feeds: FeedServer, resolver: FakeResolver
) -> None:
    feeds.add("/added/rebind.xml", make_rss(NEW))
    url = f"http://news.example:{feeds.port}/added/rebind.xml"
    assert run(web, f"feed add {url}", user=ADMIN).startswith("Added Test feed: 3 items.")
    resolver.table["news.example"] = ["10.0.0.7"]  # DNS rebinding after the check at add time

    reply = run(web, "feed poll news-example-added-rebind", user=ADMIN)

    assert (
        "• news-example-added-rebind: failed: refused: news.example resolves to 10.0.0.7, "
        "a private address"
    ) in reply
    assert "news-example-added-rebind · failing" in run(web, "status")
