"""A crafted feed served over loopback HTTP and polled by a real Runtime into a real store.

For the tests of attacked feeds (issue 12): they assert what a user would see,
the stored titles, summaries, links and dates, the feed's warning in
`/brief status`, and the order of `/brief latest`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.app.runtime import Runtime
from bot.config.schema import parse_config_text
from bot.models import Item, PollReport
from bot.store.tinydb.store import TinyStore
from tests.support.feedserver import FeedServer

FEED_ID = "attacked"
FEED_PATH = "/feed.xml"
# Served as most static file servers do: an XML type and no charset.
NO_CHARSET = "application/rss+xml"
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


@contextmanager
def served_runtime(
    server: FeedServer, data_dir: Path, *, clock: Callable[[], datetime] = lambda: NOW
) -> Iterator[Runtime]:
    """A Runtime over a fresh store with one feed, `FEED_PATH` on `server`."""
    text = (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n  - id: {FEED_ID}\n    url: {server.url(FEED_PATH)}\n"
        "    allow_private: true\n"
    )
    config = parse_config_text(text, "test-feeds.yaml", env={})
    with Runtime(config, TinyStore.open(data_dir), clock=clock) as runtime:
        yield runtime


def poll_served(
    runtime: Runtime, server: FeedServer, body: bytes, *, content_type: str | None = NO_CHARSET
) -> PollReport:
    """Serve `body` as the feed and poll it once; the poll's report."""
    server.add(FEED_PATH, body, content_type=content_type)
    [report] = runtime.poll(force=True)
    assert report.status == "ok", report.error
    return report


def stored_items(runtime: Runtime) -> list[Item]:
    """Every item in the store, in the order first seen."""
    return list(runtime.store.items.after())


def feed_warning(runtime: Runtime) -> str | None:
    state = runtime.store.feed_states.get(FEED_ID)
    assert state is not None
    return state.warning
