"""bot/ingest/links.py: canonical links (relative ones in a feed too), identity form, FR numbers."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.links import (
    _strip_tracking_params,
    _without_tabs,
    canonicalize_link,
    fr_document_number,
    identity_link,
)
from tests.ingest.feedfixtures import (
    FEED_URL,
    by_title,
    parse_fixture,
)


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        pytest.param(
            "https://Example.COM:443/a?utm_source=x&id=3&fbclid=1#frag",
            "",
            "https://example.com/a?id=3",
            id="host-case-default-port-tracking-fragment",
        ),
        pytest.param("http://example.com:80", "", "http://example.com/", id="empty-path"),
        pytest.param("http://example.com:8080/x", "", "http://example.com:8080/x", id="port"),
        pytest.param(
            "https://example.com/p?b=2&utm_medium=rss&a=1&UTM_Campaign=x&mc_cid=1&mc_eid=2"
            "&igshid=3&_hsenc=4&_hsmi=5&ref_src=6&gclid=7&msclkid=8",
            "",
            "https://example.com/p?b=2&a=1",
            id="tracking-params-removed-order-kept",
        ),
        pytest.param(
            "https://example.com/p?q=a%20b&flag&x=",
            "",
            "https://example.com/p?q=a%20b&flag&x=",
            id="other-params-byte-for-byte",
        ),
        pytest.param(
            "https://www.federalregister.gov/api/v1/documents.rss?conditions%5Bagencies%5D%5B%5D"
            "=industry-and-security-bureau",
            "",
            "https://www.federalregister.gov/api/v1/documents.rss?conditions%5Bagencies%5D%5B%5D"
            "=industry-and-security-bureau",
            id="federal-register-query-untouched",
        ),
        pytest.param("/news/1", FEED_URL, "https://feeds.example/news/1", id="root-relative"),
        pytest.param("news/2", FEED_URL, "https://feeds.example/sub/news/2", id="path-relative"),
        pytest.param("//cdn.example/x", FEED_URL, "https://cdn.example/x", id="protocol-relative"),
        pytest.param("/relative", "", None, id="relative-without-base"),
        pytest.param("javascript:alert(1)", FEED_URL, None, id="javascript"),
        pytest.param("mailto:desk@example.com", "", None, id="mailto"),
        pytest.param("ftp://example.com/file", "", None, id="ftp"),
        pytest.param("https://user:secret@example.com/", "", "https://example.com/", id="userinfo"),
        pytest.param(
            " https://example.com/with space\n", "", "https://example.com/with%20space", id="spaces"
        ),
        pytest.param("https://[::1]:8443/x", "", "https://[::1]:8443/x", id="ipv6"),
        pytest.param("https://example.com:99999/", "", None, id="bad-port"),
        pytest.param("http://", "", None, id="no-host"),
        pytest.param("", FEED_URL, None, id="empty"),
    ],
)
def test_canonicalize_link(raw: str, base: str, expected: str | None) -> None:
    assert canonicalize_link(raw, base) == expected


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param("http://example.com/a", "https://example.com/a", id="scheme"),
        pytest.param("https://example.com/a/b/", "https://example.com/a/b", id="trailing-slash"),
        pytest.param("http://Example.COM.:80/a", "https://example.com:443/a", id="host-and-ports"),
        pytest.param("https://example.com", "https://example.com/", id="empty-path"),
        pytest.param(
            "https://example.com/%7euser/a%2fb", "https://example.com/~user/a%2Fb", id="escapes"
        ),
        pytest.param("https://example.com/p?b=2&a=1", "https://example.com/p?a=1&b=2", id="order"),
        pytest.param(
            "https://example.com/p?id=3&utm_source=x&fb_ref=y&srsltid=z&itm_medium=w",
            "https://example.com/p?id=3",
            id="miniflux-tracking-params",
        ),
        pytest.param(
            "https://example.com/viewtopic.php?t=7&sid=3f2a9c0d4b5e6f708192a3b4c5d6e7f8",
            "https://example.com/viewtopic.php?t=7&sid=0123456789abcdef0123456789abcdef",
            id="sid-session-token",
        ),
        pytest.param(
            "https://example.com/a.jsp?id=1&jsessionid=x1&PHPSESSID=y",
            "https://example.com/a.jsp?id=1",
            id="session-params",
        ),
        pytest.param("https://example.com/a#one", "https://example.com/a#two", id="fragment"),
    ],
)
def test_identity_link_makes_churn_one_link(left: str, right: str) -> None:
    assert identity_link(left) == identity_link(right) is not None


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param(
            "https://slashdot.org/article.pl?sid=26/11/18/1234567",
            "https://slashdot.org/article.pl?sid=26/11/18/7654321",
            id="sid-naming-a-story",
        ),
        pytest.param(
            "https://example.com/a?sid=123", "https://example.com/a?sid=124", id="sid-short"
        ),
        pytest.param(
            "https://example.com/a?sid=chip-export-rules-2026",
            "https://example.com/a?sid=chip-export-rules-2027",
            id="sid-slug",
        ),
        pytest.param(
            "https://example.com/a?sid=1234567890123456789",
            "https://example.com/a?sid=1234567890123456780",
            id="sid-long-number",
        ),
        pytest.param("https://example.com/Case", "https://example.com/case", id="path-case"),
        pytest.param("https://example.com/a?q=1", "https://example.com/a?q=2", id="query"),
        pytest.param("https://example.com:8443/a", "https://example.com/a", id="other-port"),
    ],
)
def test_identity_link_keeps_what_names_another_page(left: str, right: str) -> None:
    assert identity_link(left) != identity_link(right)


def test_identity_link_of_a_guid_keeps_its_fragment() -> None:
    comment = "http://example.com/post/#comment-12"
    assert identity_link(comment, keep_fragment=True) == "https://example.com/post#comment-12"
    assert identity_link(comment) == "https://example.com/post"
    assert identity_link("urn:uuid:1234") is None
    assert identity_link("tag:example.com,2026:1") is None
    assert identity_link("https://example.com:99999/") is None


def test_relative_links_in_a_feed_resolve_against_its_url() -> None:
    links = {item.title: item.link for item in parse_fixture("rss20-relative-links.xml").items}
    assert links == {
        "root-relative": "https://feeds.example/news/1",
        "path-relative": "https://feeds.example/sub/news/2?id=7",
        "parent-relative": "https://feeds.example/archive/3",
        "protocol-relative": "https://cdn.feeds.example/4",
        "javascript": None,
        "mailto": None,
        "fragment and default port": "https://feeds.example/5",
    }


def test_content_location_header_is_the_base_for_relative_links() -> None:
    result = parse_fixture(
        "rss20-relative-links.xml",
        url="https://feeds.example/feed.xml",
        headers={"Content-Location": "https://mirror.example/other/feed.xml"},
    )
    assert by_title(result)["root-relative"].link == "https://mirror.example/news/1"
    assert by_title(result)["path-relative"].link == "https://mirror.example/other/news/2?id=7"


def test_relative_links_without_a_feed_url_are_dropped() -> None:
    result = parse_fixture("rss20-relative-links.xml", url="")
    assert by_title(result)["root-relative"].link is None
    assert by_title(result)["protocol-relative"].link is None


@pytest.mark.parametrize(
    ("url", "number"),
    [
        pytest.param(
            "https://www.federalregister.gov/documents/2023/02/08/2023-02130/some-title-slug",
            "2023-02130",
            id="documents-with-slug",
        ),
        pytest.param(
            "https://www.federalregister.gov/documents/2025/01/16/2025-00480",
            "2025-00480",
            id="documents-without-slug",
        ),
        pytest.param("https://www.federalregister.gov/d/2023-02130", "2023-02130", id="short"),
        pytest.param("http://federalregister.gov/d/E8-12345", "E8-12345", id="old-style-number"),
        pytest.param(
            "https://www.federalregister.gov/api/v1/documents/2025-00480.json",
            "2025-00480",
            id="api-json",
        ),
        pytest.param(
            "https://www.federalregister.gov/public-inspection/2025-00480/additions",
            "2025-00480",
            id="public-inspection",
        ),
        pytest.param(
            "https://public-inspection.federalregister.gov/2025-00480.pdf",
            "2025-00480",
            id="public-inspection-pdf",
        ),
        pytest.param("https://www.federalregister.gov/api/v1/documents.rss", None, id="feed"),
        pytest.param(
            "https://www.federalregister.gov/documents/search?conditions%5Bterm%5D=entity",
            None,
            id="search",
        ),
        pytest.param("https://example.com/d/2025-00480", None, id="other-host"),
        pytest.param("https://notfederalregister.gov/d/2025-00480", None, id="lookalike-host"),
        pytest.param("urn:uuid:1234", None, id="not-a-url"),
        pytest.param(None, None, id="none"),
    ],
)
def test_fr_document_number(url: str | None, number: str | None) -> None:
    assert fr_document_number(url) == number


def _canonical_as_joined(raw: str, base: str) -> str | None:
    """canonicalize_link as main at 90e9024 wrote it: every link joined to the base."""
    text = _without_tabs(raw).strip()
    if not text or (not base and ":" not in text):
        return None
    try:
        parts = urlsplit(urljoin(base, text) if base else text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{netloc}:{port}"
    path = (parts.path or "/").replace(" ", "%20")
    query = _strip_tracking_params(parts.query).replace(" ", "%20")
    return urlunsplit((scheme, netloc, path, query, ""))


_SCHEMES = st.sampled_from(["http", "https", "HTTP", "hTTpS", "ftp", "javascript"])
_AFTER_SCHEME = st.sampled_from(["://", ":///", ":/", ":", "://user:pw@"])
_HOSTS = st.sampled_from(
    ["example.org", "Example.ORG.", "example.org:443", "example.org:80", "example.org:99999",
     "[::1]:8080", "[::1", "", "a b.example", "ex;ample.org"]
)  # fmt: skip
_PIECES = st.sampled_from(
    ["/", "/a", "/a/", ";", "/p;x", "/p;", "/../b", "//x", "?", "?a=1&utm_source=z", "#f",
     "%2F", " ", "\t", "/é", "?q=;", "@", ":", "/./"]
)  # fmt: skip
_BASES = st.sampled_from(
    ["https://feeds.example.org/news/feed.xml", "http://feeds.example.org/", "https://x.example",
     "https://feeds.example.org/a;b/c", "ftp://files.example/"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(_SCHEMES, _AFTER_SCHEME, _HOSTS, st.lists(_PIECES, max_size=4), _BASES)
def test_an_absolute_link_is_canonical_as_when_every_link_was_joined(
    scheme: str, after: str, host: str, pieces: list[str], base: str
) -> None:
    """Absolute links skip the join to the base (issue 17): the canonical form must not change."""
    raw = scheme + after + host + "".join(pieces)
    assert canonicalize_link(raw, base) == _canonical_as_joined(raw, base), raw
