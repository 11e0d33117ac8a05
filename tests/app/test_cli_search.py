"""`briefbot search` from the index file alone while it is level with the store's files.

The first search of a data directory opens the store, catches the index file
up and records it level; the next ones answer from the file without opening
the store, until a commit touches the items.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.cli.main import main
from bot.app.runtime import Runtime
from bot.config.schema import load_config
from bot.models import Item
from bot.store.tinydb.store import TinyStore
from tests.app.test_cli import clean_env, run_cli, write_feeds
from tests.support.backends import Backend
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.readonly import read_only_directory

NOW = datetime.now(UTC).replace(microsecond=0)


def news(item_id: str, title: str) -> Item:
    return Item(id=item_id, feed_id="a", title=title, summary="", published=NOW, link=None)


def store(data: Path, *items: Item, now: datetime = NOW) -> None:
    with TinyStore.open(data) as opened, opened.transaction() as tx:
        tx.items.add(items, now=now)


def search(feeds: Path, capsys: pytest.CaptureFixture[str], *query: str) -> str:
    assert main(["--config", str(feeds), "search", *query]) == 0
    return capsys.readouterr().out


def break_shards_in_place(data: Path) -> None:
    """Damage every item shard, keeping its size, time and inode: the store can no
    longer be opened, and nothing a stamp looks at has changed."""
    for path in data.glob("items-*.json"):
        st = path.stat()
        with path.open("r+b") as file:
            file.write(b"\x00" * st.st_size)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    return write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, tmp_path / "d")


def test_a_level_index_answers_without_opening_the_store(
    feeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    store(data, news("1", "Gallium export curbs"), news("2", "Fisheries agreement"))
    assert "Gallium export curbs" in search(feeds, capsys, "gallium")  # through the store
    break_shards_in_place(data)
    out = search(feeds, capsys, "gallium")  # the file alone: the store would not open
    assert "Gallium export curbs" in out and "1 result" in out
    assert "Fisheries" not in out


def test_items_stored_since_are_found_and_pruned_ones_are_not(
    feeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    store(data, news("old", "Gallium curbs of last year"), now=NOW - timedelta(days=400))
    assert "Gallium curbs of last year" in search(feeds, capsys, "gallium")
    store(data, news("new", "Gallium curbs tightened"))
    with TinyStore.open(data, retention_days=180) as opened:
        assert opened.prune(NOW) == 1
    out = search(feeds, capsys, "gallium")  # the shards changed: through the store
    assert "Gallium curbs tightened" in out and "of last year" not in out
    break_shards_in_place(data)
    out = search(feeds, capsys, "gallium")  # level again: the file alone, pruned item gone
    assert "Gallium curbs tightened" in out and "of last year" not in out
    assert "1 result" in out


def test_query_errors_and_unknown_feeds_read_the_same_on_the_quick_path(
    feeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(tmp_path / "d", news("1", "Gallium export curbs"))
    search(feeds, capsys, "gallium")
    assert main(["--config", str(feeds), "search", '"entity list']) == 2
    assert "unclosed quote at column 1" in capsys.readouterr().err
    assert main(["--config", str(feeds), "search", "feed:nope", "gallium"]) == 2
    assert "feed:nope: no such feed; the feeds are a" in capsys.readouterr().err


def test_after_the_service_polled_the_next_search_reads_the_file_alone(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d"
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, data)
    feed_server.add(
        "/a.xml", make_rss([Entry("Gallium export curbs", "https://e.org/1", guid="1")])
    )
    config = load_config(feeds)
    with Runtime.open(config) as runtime:  # the service: polls, and its index is open
        runtime.poll(force=True)
        assert [hit.item.title for hit in runtime.search("gallium").hits] == [
            "Gallium export curbs"
        ]
        feed_server.add(
            "/a.xml",
            make_rss(
                [
                    Entry("Gallium export curbs", "https://e.org/1", guid="1"),
                    Entry("Gallium smelters close", "https://e.org/2", guid="2"),
                ]
            ),
        )
        runtime.poll(force=True)  # stores one more item, indexes it, records the level
    break_shards_in_place(data)
    out = search(feeds, capsys, "gallium")
    assert "Gallium smelters close" in out and "2 result" in out


def test_a_read_only_data_directory_is_searched_through_a_temporary_index(
    tmp_path: Path, backend: Backend
) -> None:
    """Nothing can be written to the directory: the items are indexed into a private
    temporary file, a warning says why, and the file is gone when the search ends
    (PostgreSQL searches in the database: no warning, no file)."""
    data = tmp_path / "d"
    data.mkdir()
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, data)
    with backend.open(data) as opened, opened.transaction() as tx:
        tx.items.add([news("1", "Gallium export curbs"), news("2", "Fisheries")], now=NOW)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    before = sorted(path.name for path in data.iterdir())
    with read_only_directory(data):
        env = backend.env(clean_env(TMPDIR=str(temporary)))
        found = run_cli("--config", str(feeds), "search", "gallium", env=env)
    assert found.returncode == 0, found.stderr
    assert "Gallium export curbs" in found.stdout and "1 result" in found.stdout
    assert "Fisheries" not in found.stdout
    assert sorted(path.name for path in data.iterdir()) == before, "nothing written"
    assert list(temporary.iterdir()) == [], "the temporary index is removed"
    warned = [line for line in found.stderr.splitlines() if "search index" in line]
    if backend.postgres:
        assert warned == []
    else:
        [warning] = warned
        assert f"{data} cannot keep its file" in warning and "temporary" in warning
