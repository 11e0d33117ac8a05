"""A poll cycle on PostgreSQL: a feed's entries are checked against the store in one question."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config.model import Config
from bot.config.schema import parse_config_text
from bot.ingest.poll import poll_feeds
from bot.store.postgres.store import PgStore
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer


def _config(feed_urls: dict[str, str], data_dir: Path) -> Config:
    feeds = "\n".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true" for fid, url in feed_urls.items()
    )
    text = (
        f"settings:\n  data_dir: {data_dir}\n  connect_timeout: 2\n  read_timeout: 2\n"
        f"  total_timeout: 5\nfeeds:\n{feeds}\n"
    )
    return parse_config_text(text, "test-feeds.yaml", env={})


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def pg_store(database_url: str) -> Iterator[PgStore]:
    with PgStore.open(database_url) as store:
        yield store


def test_a_feed_of_30_entries_is_deduplicated_in_one_round_trip(
    feed_server: FeedServer, pg_store: PgStore, tmp_path: Path
) -> None:
    now = _now()
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 27, now=now)), etag='"v1"')
    feed_server.add("/b.xml", make_rss(numbered_entries(1, 30, prefix="Other", now=now)))
    config = _config({"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")}, tmp_path)
    poll_feeds(config, pg_store, force=True, clock=_now)

    feed_server.add("/a.xml", make_rss(numbered_entries(1, 30, now=now)), etag='"v2"')
    before = pg_store.pool.get_stats()["requests_num"]
    cycle = poll_feeds(config, pg_store, force=True, clock=_now)
    asked = pg_store.pool.get_stats()["requests_num"] - before

    reports = {r.feed_id: (r.new_items, r.seen_items) for r in cycle.reports}
    assert reports == {"a": (3, 27), "b": (0, 30)}
    assert sorted(i.title for i in cycle.stored) == ["Story 28", "Story 29", "Story 30"]
    # The feed states, one look-up per feed, the transaction: not one per entry (60).
    assert asked <= 4, f"{asked} connections taken from the pool for 60 entries"
