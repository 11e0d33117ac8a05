"""The story index between processes: each `briefbot poll` links repeats as one long process would.

Each `Runtime.open` below is what a new `briefbot poll` process does. The
index the last one saved (`stories.cache` in the data directory) is loaded
and caught up with the store instead of being rebuilt from every stored item.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.app.storycache import CACHE_NAME
from bot.config.model import Config
from bot.models import Item
from bot.store.ports import StoreError
from tests.app.test_runtime import config_for, unwritable
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
STORY = "Commerce adds nine Chinese firms to trade blacklist"


def entry(guid: str) -> Entry:
    return Entry(STORY, "https://news.example/blacklist", guid=guid, published=NOW)


def serve(feed_server: FeedServer, path: str, prefix: str, *extra: Entry) -> None:
    feed_server.add(path, make_rss([*extra, *numbered_entries(1, 2, prefix=prefix)]))


def poll_once(config: Config) -> None:
    """One `briefbot poll` process: open, poll every feed, close."""
    with Runtime.open(config, clock=lambda: NOW) as runtime:
        runtime.poll(force=True)


def stored_copies(config: Config) -> dict[str, Item]:
    with Runtime.open(config, read_only=True) as runtime:
        return {i.feed_id: i for i in runtime.store.items.after() if i.title == STORY}


@pytest.fixture
def two_feeds(feed_server: FeedServer, tmp_path: Path) -> Config:
    serve(feed_server, "/a.xml", "Alpha")
    serve(feed_server, "/b.xml", "Beta")
    urls = {"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")}
    return config_for(urls, tmp_path / "data")


def test_a_story_from_an_earlier_process_links_and_the_index_is_saved(
    feed_server: FeedServer, two_feeds: Config
) -> None:
    poll_once(two_feeds)  # backlog
    serve(feed_server, "/a.xml", "Alpha", entry("a-1"))
    poll_once(two_feeds)
    saved = json.loads((Path(two_feeds.settings.data_dir) / CACHE_NAME).read_text())
    serve(feed_server, "/b.xml", "Beta", entry("b-1"))
    poll_once(two_feeds)
    copies = stored_copies(two_feeds)
    assert copies["b"].duplicate_of == copies["a"].seq
    assert saved["seq"] == copies["a"].seq  # the file knew a's copy, nothing after it
    assert saved["key"] == ["a", copies["a"].id]


def test_items_stored_after_the_saved_index_are_caught_up(
    feed_server: FeedServer, two_feeds: Config
) -> None:
    # A process that crashed between its commit and its save (or an older
    # briefbot) leaves a file behind the store: the next one replays the rest.
    data = Path(two_feeds.settings.data_dir)
    poll_once(two_feeds)
    behind = data.parent / "behind.cache"
    shutil.copyfile(data / CACHE_NAME, behind)
    serve(feed_server, "/a.xml", "Alpha", entry("a-1"))
    poll_once(two_feeds)
    shutil.copyfile(behind, data / CACHE_NAME)
    serve(feed_server, "/b.xml", "Beta", entry("b-1"))
    poll_once(two_feeds)
    copies = stored_copies(two_feeds)
    assert copies["b"].duplicate_of == copies["a"].seq


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:100]), id="truncated"),
        pytest.param(lambda path: path.write_text('{"seq": 1, "index": {}}'), id="foreign"),
        pytest.param(lambda path: path.write_bytes(b"\x00" * 64), id="zeros"),
    ],
)
def test_a_damaged_file_means_a_rebuild_and_is_written_again(
    feed_server: FeedServer, two_feeds: Config, damage: object
) -> None:
    data = Path(two_feeds.settings.data_dir)
    poll_once(two_feeds)
    serve(feed_server, "/a.xml", "Alpha", entry("a-1"))
    poll_once(two_feeds)
    assert callable(damage)
    damage(data / CACHE_NAME)
    serve(feed_server, "/b.xml", "Beta", entry("b-1"))
    poll_once(two_feeds)
    copies = stored_copies(two_feeds)
    assert copies["b"].duplicate_of == copies["a"].seq
    assert json.loads((data / CACHE_NAME).read_text())["seq"] == copies["b"].seq


def test_a_file_from_another_data_directory_is_not_used(
    feed_server: FeedServer, two_feeds: Config, tmp_path: Path
) -> None:
    # A data directory restored from a backup, with another store's file: the
    # file's seq names another item here, so the index is rebuilt.
    other = config_for({"a": feed_server.url("/a.xml")}, tmp_path / "other")
    serve(feed_server, "/a.xml", "Alpha", entry("a-1"))
    poll_once(other)  # a's copy is known to the other directory's index
    poll_once(two_feeds)  # ...and stored here too, under other seqs
    data = Path(two_feeds.settings.data_dir)
    shutil.copyfile(tmp_path / "other" / CACHE_NAME, data / CACHE_NAME)
    serve(feed_server, "/b.xml", "Beta", entry("b-1"))
    poll_once(two_feeds)
    copies = stored_copies(two_feeds)
    assert copies["b"].duplicate_of == copies["a"].seq


def test_a_failed_commit_leaves_the_saved_index_without_its_items(
    feed_server: FeedServer, two_feeds: Config
) -> None:
    data = Path(two_feeds.settings.data_dir)
    poll_once(two_feeds)
    serve(feed_server, "/a.xml", "Alpha", entry("a-1"))
    with (
        Runtime.open(two_feeds, clock=lambda: NOW) as runtime,
        unwritable(data, f"items-{NOW:%Y-%m}.json"),
        pytest.raises(StoreError),
    ):
        runtime.poll(force=True)
    poll_once(two_feeds)  # a's copy stored now, by the next process
    serve(feed_server, "/b.xml", "Beta", entry("b-1"))
    poll_once(two_feeds)
    copies = stored_copies(two_feeds)
    assert copies["b"].duplicate_of == copies["a"].seq
