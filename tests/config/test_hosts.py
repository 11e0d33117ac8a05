"""The one host normaliser (bot/config/hosts.py): UTS 46, as browsers and resolvers see hosts.

What the policy then makes of each host is tests/config/test_addresses.py's
table; `/brief feed add` with these hosts is tests/app/commands/test_feed_add.py.
"""

from __future__ import annotations

import pytest

from bot.config.hosts import InvalidHostError, normalize_host, normalize_url


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("example.org", "example.org"),
        ("Example.ORG", "example.org"),
        ("ｌｏｃａｌｈｏｓｔ", "localhost"),  # full-width
        ("ＬＯＣＡＬＨＯＳＴ.", "localhost."),
        ("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost"),  # circled letters
        ("①②⑦.0.0.1", "127.0.0.1"),  # circled digits
        ("127。0。0。1", "127.0.0.1"),  # ideographic full stops
        ("１６９．２５４．１６９．２５４", "169.254.169.254"),
        ("例え.jp", "xn--r8jz45g.jp"),
        ("xn--r8jz45g.jp", "xn--r8jz45g.jp"),
        ("bücher.example", "xn--bcher-kva.example"),
        # ASCII names that break IDNA 2008 but resolve, and that httpx fetches
        ("r4---sn-abc.googlevideo.com", "r4---sn-abc.googlevideo.com"),
        ("a_b.example", "a_b.example"),
        # inet_aton's numeric forms are names here (the policy reads them as IPv4)
        ("0x7f.1", "0x7f.1"),
        # IP literals, as written
        ("[::FFFF:7f00:1]", "::ffff:7f00:1"),
        ("::1", "::1"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_hosts_are_read_as_a_resolver_is_asked_for_them(host: str, normal: str) -> None:
    assert normalize_host(host) == normal


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("a%0d%0ab.example", "a%0d%0ab.example is not a valid host name: it has a percent-encoded"),
        ("%31%32%37.0.0.1", "a percent-encoded character"),
        ("a..b", "has an empty label"),
        ("xn--zz.example", "xn--zz is not valid punycode"),
        ("⒈.example", "not a valid host name"),
        ("a b.example", "it has the character ' '"),
        ("a" * 64 + ".example", "a label over 63 characters"),
        (".".join(["abcdefgh"] * 30), "longer than 253 characters"),
        ("", "the host name is empty"),
    ],
)
def test_hosts_no_resolver_could_be_asked_for_are_refused(host: str, problem: str) -> None:
    with pytest.raises(InvalidHostError) as refused:
        normalize_host(host)
    assert problem in str(refused.value)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://example.org/feed.xml", "https://example.org/feed.xml"),
        ("https://Example.org/Feed?a=B", "https://Example.org/Feed?a=B"),  # already normal
        ("http://ｅｘａｍｐｌｅ.org:8080/x?q=１", "http://example.org:8080/x?q=１"),
        ("http://user:pa@ss@例え.jp/feed", "http://user:pa@ss@xn--r8jz45g.jp/feed"),
        ("http://127。0。0。1/", "http://127.0.0.1/"),
        ("http://[::FFFF:7f00:1]:81/", "http://[::FFFF:7f00:1]:81/"),  # case alone: kept
        ("/relative/path", "/relative/path"),
    ],
)
def test_urls_get_their_host_normalised_and_keep_the_rest(url: str, normal: str) -> None:
    assert normalize_url(url) == normal
