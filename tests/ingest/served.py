"""Crafted feeds served over loopback HTTP and polled by a real Runtime into a real store.

For the tests of attacked feeds (issue 12): they assert what a user would see,
the stored titles, summaries, links and dates, the feed's warning in
`/brief status`, and the order of `/brief latest`. Feed `<id>` is served at
`/<id>.xml`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.app.runtime import Runtime
from bot.config.schema import parse_config_text
from bot.models import Item, PollReport
from bot.store.tinydb.store import TinyStore
from tests.support.feedserver import FeedServer

FEED_ID = "attacked"
# Served as most static file servers do: an XML type and no charset.
NO_CHARSET = "application/rss+xml"
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


@contextmanager
def served_runtime(
    server: FeedServer,
    data_dir: Path,
    *,
    feed_ids: Sequence[str] = (FEED_ID,),
    clock: Callable[[], datetime] = lambda: NOW,
) -> Iterator[Runtime]:
    """A Runtime over a fresh store with the feeds `feed_ids`, served by `server`."""
    feeds = "".join(
        f"  - id: {fid}\n    url: {server.url(f'/{fid}.xml')}\n    allow_private: true\n"
        for fid in feed_ids
    )
    text = (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n{feeds}"
    )
    config = parse_config_text(text, "test-feeds.yaml", env={})
    with Runtime(config, TinyStore.open(data_dir), clock=clock) as runtime:
        yield runtime


def serve(
    server: FeedServer, body: bytes, *, feed_id: str = FEED_ID, content_type: str = NO_CHARSET
) -> None:
    server.add(f"/{feed_id}.xml", body, content_type=content_type)


def poll(runtime: Runtime, feed_ids: Collection[str] | None = None) -> list[PollReport]:
    """Poll the (given) feeds once; every poll must succeed."""
    reports = runtime.poll(feed_ids=feed_ids, force=True)
    assert [r.status for r in reports] == ["ok"] * len(reports), [r.error for r in reports]
    return reports


def poll_served(
    runtime: Runtime, server: FeedServer, body: bytes, *, content_type: str = NO_CHARSET
) -> PollReport:
    """Serve `body` as the one feed and poll it once; the poll's report."""
    serve(server, body, content_type=content_type)
    [report] = poll(runtime)
    return report


def stored_items(runtime: Runtime) -> list[Item]:
    """Every item in the store, in the order first seen."""
    return list(runtime.store.items.after())


def feed_warning(runtime: Runtime, feed_id: str = FEED_ID) -> str | None:
    state = runtime.store.feed_states.get(feed_id)
    assert state is not None
    return state.warning
