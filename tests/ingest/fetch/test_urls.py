"""A feed URL as the fetcher requests it (bot/ingest/fetch/urls.py `FeedURL`)."""

from __future__ import annotations

import pytest

from bot.ingest.fetch.urls import FeedURL, InvalidURL, read_url, request_head


@pytest.mark.parametrize(
    ("written", "requested"),
    [
        ("http://example.org/feed.xml", "http://example.org/feed.xml"),
        ("HTTPS://Example.ORG:443/a", "https://example.org/a"),  # default port dropped
        ("http://example.org:80", "http://example.org/"),  # empty path: "/"
        ("http://example.org:8080/a?b=1&c=2", "http://example.org:8080/a?b=1&c=2"),
        ("http://example.org/a b/ü?q=x y", "http://example.org/a%20b/%C3%BC?q=x%20y"),
        ("http://example.org/a%20b/%zz", "http://example.org/a%20b/%25zz"),  # escapes kept
        ("http://example.org/a#part", "http://example.org/a"),  # no fragment: never sent
        ("http://bücher.example/x", "http://xn--bcher-kva.example/x"),  # UTS 46
        ("http://ＦＥＥＤ．ｔｅｓｔ/x", "http://feed.test/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://u%40s:p%3Aw@example.org/x", "http://u%40s:p%3Aw@example.org/x"),
    ],
)
def test_a_url_is_read_as_it_is_requested(written: str, requested: str) -> None:
    assert str(FeedURL.parse(written)) == requested


def test_urls_that_ask_for_the_same_thing_are_equal() -> None:
    # The redirect-loop check compares hops: a port or case that changes nothing
    # must not make a loop look like progress.
    assert FeedURL.parse("http://A.example:80/x") == FeedURL.parse("http://a.example/x")
    assert FeedURL.parse("http://a.example/x") != FeedURL.parse("https://a.example/x")


@pytest.mark.parametrize(
    ("base", "location", "joined"),
    [
        ("https://a.example/feeds/x.xml", "y.xml", "https://a.example/feeds/y.xml"),
        ("https://a.example/feeds/x.xml", "/y.xml?z=1", "https://a.example/y.xml?z=1"),
        ("https://a.example/feeds/x.xml", "../top.xml", "https://a.example/top.xml"),
        ("https://a.example/feeds/x.xml", "//b.example/x", "https://b.example/x"),
        ("http://a.example/x", "https://B.example:443/y", "https://b.example/y"),
        ("https://a.example/x", "?page=2", "https://a.example/x?page=2"),
    ],
)
def test_a_redirect_location_is_joined_to_where_it_came_from(
    base: str, location: str, joined: str
) -> None:
    assert str(FeedURL.parse(base).join(location)) == joined


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("http://example.org:http/x", "invalid port 'http'"),
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http://a%0d%0ab.example/", "a%0d%0ab.example is not a valid host name"),
    ],
)
def test_what_cannot_be_requested_says_why(written: str, reason: str) -> None:
    with pytest.raises(InvalidURL) as raised:
        FeedURL.parse(written)
    assert reason in str(raised.value)
    assert read_url(written) == f"not a valid URL: {raised.value}"


def test_the_host_header_and_credentials_sent() -> None:
    head = dict(request_head(FeedURL.parse("http://us%40er:p%3Ass@[::1]:8080/f")))
    assert head[b"Host"] == b"[::1]:8080"
    assert head[b"Authorization"] == b"Basic dXNAZXI6cDpzcw=="  # us@er:p:ss
    assert b"Authorization" not in dict(request_head(FeedURL.parse("http://example.org/")))
