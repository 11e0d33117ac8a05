"""bot/ingest/parse.py's quicker resolution of a URI against the base: feedparser's, exactly.

feedparser resolves each entry's GUID and links against the document's base
(`feedparser.urls._urljoin`); the bot's parser classes take a short cut for a
URI that is one plain path segment. Whatever the base and URI, the result must
be feedparser's own.
"""

from __future__ import annotations

from feedparser.urls import _urljoin
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.ingest.parse import _resolve_uri

_BASE_PIECES = st.sampled_from(
    [
        "http://", "https://", "feed:", "ftp://", "mailto:", "h.example", "H.Example:8080",
        "/", "//", "a", "b/", "./", "../", ".", "..", ";p", "?q=1", "#f", "%2e", "[::1]", "[",
        "user@", " ", "é",
    ]
)  # fmt: skip
_URI_PIECES = st.sampled_from(
    ["0", "12", "a", "Z", "_", "~", "-", ".", "..", "x.html", "/", ":", "?", "#", ";", "%41", " "]
)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(st.lists(_BASE_PIECES, max_size=8).map("".join), st.text(max_size=20)),
    st.one_of(st.lists(_URI_PIECES, min_size=1, max_size=5).map("".join), st.text(max_size=10)),
)
@example("https://feeds.example.org/feed.xml", "1234")
@example("https://feeds.example.org/a/./b/../c;p?q#f", "post-1.html")
@example("https://feeds.example.org", "..a")
@example("", "0")
@example("http://[a/", "0")
def test_a_uri_resolves_as_feedparser_resolves_it(base: str, uri: str) -> None:
    assert _resolve_uri(base, uri) == _urljoin(base, uri)
