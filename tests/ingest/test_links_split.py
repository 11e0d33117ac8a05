"""bot/ingest/links.py's fast path: a plain http(s) URL split by a regular expression.

The fast path must give exactly urlsplit's parts, and the canonical and identity
forms exactly what they were when every link went through urlsplit and
urlunsplit (`_canonical_before` and `_identity_before` below are that code, as
it was in release 0.1 and until the fast path): identities stored from them
must keep matching.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.ingest.links import (
    _DEFAULT_PORTS,
    _identity_params,
    _joins_to_itself,
    _normalize_escapes,
    _split,
    _split_slow,
    _strip_tracking_params,
    _without_tabs,
    canonicalize_link,
    identity_link,
)

_PIECES = st.sampled_from(
    [
        "http://", "https://", "HTTP://", "hTTps://", "ftp://", "http:", "//", "/", "?", "#",
        "&", "=", "@", ":", ":80", ":443", ":8080", ":x", "[", "]", "[::1]", ";", "%", "%2f",
        "%7E", "%41", " ", "\t", "\n", "\x00", "\x1f", ".", "..", "-", "_", "~", "example.COM",
        "a", "B", "0", "9", "utm_source=x", "sid=abcdef0123456789", "id=3", "é", "\u212a",
        "\u017f", "ı", "xn--", "user:pw@", "www.", "/a/b/", "index.html",
    ]
)  # fmt: skip
_URLS = st.one_of(
    st.lists(_PIECES, max_size=12).map("".join),
    st.builds(lambda head, tail: head + tail, _PIECES, st.text(max_size=30)),
    st.text(max_size=40),
)
_BASES = st.sampled_from(["", "https://feeds.example.org/feed.xml", "http://h.example/a/b;p?q"])


def _canonical_before(raw: str, base: str = "") -> str | None:
    text = _without_tabs(raw).strip()
    if not text or (not base and ":" not in text):
        return None
    try:
        parts = urlsplit(text if not base or _joins_to_itself(text) else urljoin(base, text))
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = (parts.path or "/").replace(" ", "%20")
    query = _strip_tracking_params(parts.query).replace(" ", "%20")
    return urlunsplit((scheme, netloc, path, query, ""))


def _identity_before(url: str, *, keep_fragment: bool = False) -> str | None:
    text = _without_tabs(url).strip()
    if ":" not in text:
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = host.rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _normalize_escapes(parts.path.replace(" ", "%20")).rstrip("/") or "/"
    query = "&".join(sorted(_identity_params(parts.query)))
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit(("https", netloc, path, query, _normalize_escapes(fragment)))


@settings(max_examples=3000, deadline=None)
@given(_URLS)
@example("https://Example.COM?x#y")
@example("https://example.com/a\tb")
@example("https://\u212aelvin.example/")
@example("https://example.com./a/?b=1#c?d#e")
@example("http://a.example:80/")
def test_the_fast_split_gives_urlsplits_parts(text: str) -> None:
    assert _split(text) == _split_slow(text)


@settings(max_examples=3000, deadline=None)
@given(_URLS, _BASES, st.booleans())
@example("https://Example.COM?utm_source=1&b=%7e#f", "", True)
@example("HTTPS://example.com/a b/?q r", "https://feeds.example.org/feed.xml", False)
@example("https://example.com/%2f/", "", True)
@example("http://.//http://", "", False)  # a host of dots: no netloc, a path starting "//"
def test_canonical_and_identity_forms_are_those_of_urlsplit(
    text: str, base: str, keep_fragment: bool
) -> None:
    assert canonicalize_link(text, base) == _canonical_before(text, base)
    assert identity_link(text, keep_fragment=keep_fragment) == _identity_before(
        text, keep_fragment=keep_fragment
    )
