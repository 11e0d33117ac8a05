"""What the fetch tests share: small limits, a sample feed, one-feed fetches.

Every live request goes to the loopback feed server (tests/support/feedserver.py).
"""

from __future__ import annotations

import socket

from bot.ingest.fetch.client import fetch_feeds
from bot.models import FeedConfig, FeedState, FetchResult, Settings
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver

__all__ = ["FAST", "RSS", "FakeResolver", "fetch_one", "free_port", "local_feed"]

# Small limits so failure cases end quickly.
FAST = Settings(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    max_bytes=64 * 1024,
    user_agent="briefbot-test/1.0 (+https://example.invalid/briefbot)",
)
RSS = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>T</title>'
    b"<item><title>Additions to the Entity List</title><guid>2024-00001</guid></item>"
    b"</channel></rss>\n"
)


def local_feed(server: FeedServer, path: str, **kw: object) -> FeedConfig:
    return FeedConfig(id=path.strip("/") or "root", url=server.url(path), allow_private=True, **kw)  # type: ignore[arg-type]


def fetch_one(
    feed: FeedConfig,
    state: FeedState | None = None,
    settings: Settings = FAST,
    **kw: object,
) -> FetchResult:
    states = {feed.id: state} if state is not None else {}
    [result] = fetch_feeds([feed], states, settings, **kw)  # type: ignore[arg-type]
    return result


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
