"""A feed's URL as the fetcher reads it: checked, joined hop by hop, shown without secrets.

`FeedURL` is a URL as the fetcher requests it: the host read by
bot/config/hosts.py first (UTS 46: `ｅｘａｍｐｌｅ.org` is example.org, the
host the config checker read), lower-case ASCII (`xn--` labels) or an IP
literal; the scheme's default port dropped; path and query percent-encoded
where RFC 3986 wants it (spaces, non-ASCII as UTF-8), escapes already there
kept; no fragment (never sent). Two URLs are equal when they request the same
thing, which the redirect-loop check relies on. `next_hop` holds the rules
every redirect obeys: http(s) only, no https -> http downgrade, no loops, at
most `max_redirects`. Every URL a text shows goes through `shown`: no user
info, and bot.config.redact hides keys and tokens in the query.

Why not httpx.URL (the fetcher used it until it stopped using httpx): importing
httpx cost every `briefbot poll` 25-30 ms of CPU before its downloads could
start, for a URL parser.
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field, replace
from typing import Final
from urllib.parse import quote, unquote_to_bytes, urljoin, urlsplit

from bot.config.hosts import InvalidHostError, normalize_url
from bot.config.redact import redact_url
from bot.ingest.fetch.errors import FetchFailure
from bot.ingest.fetch.wire import Origin

__all__ = [
    "FeedURL",
    "InvalidURL",
    "Trail",
    "check_url",
    "next_hop",
    "read_url",
    "redirect_note",
    "request_head",
    "shown",
    "without_userinfo",
]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# What a path may hold as it is (RFC 3986 pchar and "/"); "%" is kept when an escape follows.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE: Final = _PATH_SAFE + "?"
_LONE_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")


class InvalidURL(ValueError):
    """Not a URL the fetcher can request; `str(error)` says why."""


@dataclass(frozen=True, slots=True)
class FeedURL:
    """A URL as requested (see the module docstring); `parse` reads one."""

    scheme: str  # "http" or "https" (or another, which `read_url` refuses)
    host: str  # as resolved: lower-case ASCII or an IP literal without brackets
    port: int | None  # None: the scheme's default
    target: str  # path and query, percent-encoded; "/" at least
    userinfo: str = ""  # "user:password" as written, or ""

    @classmethod
    def parse(cls, text: str) -> FeedURL:
        """`text` read as an absolute URL; InvalidURL saying what is wrong."""
        try:
            parts = urlsplit(normalize_url(text))
        except InvalidHostError as exc:
            raise InvalidURL(str(exc)) from None
        except ValueError as exc:  # brackets that do not close, say
            raise InvalidURL(str(exc)) from None
        scheme = parts.scheme.lower()
        userinfo, _, hostport = parts.netloc.rpartition("@")
        host = (parts.hostname or "").lower()
        port = _port(hostport)
        if port is not None and port == _DEFAULT_PORTS.get(scheme):
            port = None
        path = _escaped(parts.path, _PATH_SAFE) or "/"
        query = _escaped(parts.query, _QUERY_SAFE)
        return cls(scheme, host, port, f"{path}?{query}" if query else path, userinfo)

    @property
    def netloc(self) -> str:
        """host[:port] as the Host header has it (an IPv6 literal in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def origin(self) -> Origin:
        """Scheme, host and port (the default one if none): the key connections are kept by."""
        port = self.port if self.port is not None else _DEFAULT_PORTS.get(self.scheme, 0)
        return (self.scheme.encode(), self.host.encode("ascii", "replace"), port)

    def join(self, location: str) -> FeedURL:
        """`location` (absolute or relative, as a redirect gives it) read against this URL."""
        return FeedURL.parse(urljoin(str(self), location))

    def __str__(self) -> str:
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        return f"{self.scheme}://{userinfo}{self.netloc}{self.target}"


def _port(hostport: str) -> int | None:
    tail = hostport[hostport.index("]") + 1 :] if hostport.startswith("[") else hostport
    _, colon, written = tail.partition(":")
    if not colon or not written:
        return None
    if not (written.isascii() and written.isdigit()):
        raise InvalidURL(f"invalid port {written!r}")
    return int(written)


def _escaped(text: str, safe: str) -> str:
    return quote(_LONE_PERCENT.sub("%25", text), safe=safe)


@dataclass
class Trail:
    """Where a fetch has got to, for error texts."""

    url: FeedURL
    hops: list[FeedURL] = field(default_factory=list)


def request_head(url: FeedURL) -> list[tuple[bytes, bytes]]:
    """Host, and Basic credentials when the URL carries user info (percent-decoded)."""
    head = [(b"Host", url.netloc.encode("ascii", "replace"))]
    if url.userinfo:
        user, _, password = url.userinfo.encode("utf-8").partition(b":")
        token = base64.b64encode(unquote_to_bytes(user) + b":" + unquote_to_bytes(password))
        head.append((b"Authorization", b"Basic " + token))
    return head


def check_url(url: str) -> FeedURL:
    """`url` read and checked (`read_url`); FetchFailure saying why not."""
    checked = read_url(url)
    if isinstance(checked, str):
        raise FetchFailure(checked)
    return checked


@functools.lru_cache(maxsize=4096)
def read_url(url: str) -> FeedURL | str:
    """`url` read and checked, or why not; kept, since every poll reads the same URLs again."""
    try:
        parsed = FeedURL.parse(url)
    except InvalidURL as exc:
        return f"not a valid URL: {exc}"
    # Shown as configured, minus credentials.
    written = redact_url(url.strip())
    if parsed.scheme not in ("http", "https"):
        return f"not an http(s) URL: {written}"
    if not parsed.host:
        return f"not a valid URL (no host): {written}"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"not a valid URL (port {parsed.port} out of range)"
    return parsed


def next_hop(trail: Trail, status: int, location: str | None, max_redirects: int) -> FeedURL:
    """Where redirect `status` with `location` leads from `trail`, if every hop rule allows."""
    if not location:
        raise FetchFailure(f"HTTP {status} redirect without a Location header")
    try:
        target = trail.url.join(location.strip())
    except ValueError as exc:  # InvalidURL among them
        raise FetchFailure(f"HTTP {status} redirect to an invalid URL: {exc}") from None
    if target.scheme not in ("http", "https"):
        # Shown as the server wrote it.
        written = redact_url(location.strip())
        raise FetchFailure(f"redirect to a non-http(s) URL refused: {written[:200]}")
    if trail.url.scheme == "https" and target.scheme == "http":
        # A plain-http hop would let anyone on the path rewrite the feed.
        raise FetchFailure(f"redirect from https to plain http refused: {shown(target)}")
    chain = [*trail.hops, trail.url]
    if target in chain:
        loop = " -> ".join(shown(u) for u in [*chain, target])
        raise FetchFailure(f"redirect loop: {loop}")
    if len(trail.hops) >= max_redirects:
        raise FetchFailure(f"too many redirects (more than {max_redirects})")
    return target


def without_userinfo(url: FeedURL) -> FeedURL:
    """`url` minus its user info: the base of the feed's relative links, never shown."""
    return replace(url, userinfo="") if url.userinfo else url


def shown(url: FeedURL) -> str:
    # Credentials in a feed URL must never reach logs or error texts.
    return redact_url(str(without_userinfo(url)))


def redirect_note(trail: Trail | None) -> str:
    """What an error text adds when the fetch got there by redirect (the last hop, shown)."""
    if trail is None or not trail.hops:
        return ""
    return f" (reached by redirect from {shown(trail.hops[-1])})"
