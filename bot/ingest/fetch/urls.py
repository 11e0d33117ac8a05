"""A feed's URL as the fetcher reads it: checked, joined hop by hop, shown without secrets.

httpx.URL reads and joins URLs (percent-encoding, IDNA, ports); bot/config/hosts.py
reads the host first (UTS 46), as the config checker did. `next_hop` holds the
rules every redirect obeys: http(s) only, no https -> http downgrade, no loops,
at most `max_redirects`. Every URL a text shows goes through `shown`: no user
info, and bot.config.redact hides keys and tokens in the query.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

import httpx

from bot.config.hosts import InvalidHostError, normalize_url
from bot.config.redact import redact_url
from bot.ingest.fetch.errors import FetchFailure

__all__ = [
    "Trail",
    "check_url",
    "next_hop",
    "read_url",
    "redirect_note",
    "request_head",
    "shown",
    "without_userinfo",
]


@dataclass
class Trail:
    """Where a fetch has got to, for error texts."""

    url: httpx.URL
    hops: list[httpx.URL] = field(default_factory=list)


def request_head(url: httpx.URL) -> list[tuple[bytes, bytes]]:
    """Host, and Basic credentials when the URL carries user info (as httpx sent them)."""
    head = [(b"Host", url.netloc.split(b"@")[-1])]
    if url.userinfo:
        user, _, password = url.userinfo.partition(b":")
        token = base64.b64encode(unquote_to_bytes(user) + b":" + unquote_to_bytes(password))
        head.append((b"Authorization", b"Basic " + token))
    return head


def check_url(url: str) -> httpx.URL:
    """`url` read and checked (`read_url`); FetchFailure saying why not."""
    checked = read_url(url)
    if isinstance(checked, str):
        raise FetchFailure(checked)
    return checked


@functools.lru_cache(maxsize=4096)
def read_url(url: str) -> httpx.URL | str:
    """`url` read and checked, or why not; kept, since every poll reads the same URLs again."""
    try:
        normalized = normalize_url(url)
    except InvalidHostError as exc:
        return f"not a valid URL: {exc}"
    except ValueError:
        normalized = url  # not a URL urlsplit reads: httpx says what is wrong
    try:
        parsed = httpx.URL(normalized)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"not a valid URL: {exc}"
    # Shown as configured (httpx rewrites file:///x as file:/x), minus credentials.
    written = redact_url(url.strip())
    if parsed.scheme not in ("http", "https"):
        return f"not an http(s) URL: {written}"
    if not parsed.host:
        return f"not a valid URL (no host): {written}"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"not a valid URL (port {parsed.port} out of range)"
    return parsed


def next_hop(trail: Trail, status: int, location: str | None, max_redirects: int) -> httpx.URL:
    """Where redirect `status` with `location` leads from `trail`, if every hop rule allows."""
    if not location:
        raise FetchFailure(f"HTTP {status} redirect without a Location header")
    try:
        target = trail.url.join(location.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchFailure(f"HTTP {status} redirect to an invalid URL: {exc}") from None
    if target.scheme not in ("http", "https"):
        # Shown as the server wrote it (joining rewrites file:///x as file:/x).
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


def without_userinfo(url: httpx.URL) -> httpx.URL:
    """`url` minus its user info: the base of the feed's relative links, never shown."""
    return url.copy_with(userinfo=b"") if url.userinfo else url


def shown(url: httpx.URL) -> str:
    # Credentials in a feed URL must never reach logs or error texts.
    return redact_url(str(without_userinfo(url)))


def redirect_note(trail: Trail | None) -> str:
    """What an error text adds when the fetch got there by redirect (the last hop, shown)."""
    if trail is None or not trail.hops:
        return ""
    return f" (reached by redirect from {shown(trail.hops[-1])})"
