"""The search index file: searched without a rebuild, caught up after a crash, a cache of the store.

Each `FtsIndex(...)` below is what a new process does: the file is opened,
never rebuilt from the store unless it is not this store's index.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.find.query.parser import parse_query
from bot.models import Item
from bot.store.searchdb.index import FtsIndex
from bot.store.searchdb.schema import FILE_NAME
from bot.store.tinydb.store import TinyStore
from tests.support import paths

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def news(item_id: str, title: str, summary: str = "", feed_id: str = "fr-bis") -> Item:
    return Item(id=item_id, feed_id=feed_id, title=title, summary=summary, published=NOW, link=None)


def store_items(store: TinyStore, *items: Item, now: datetime = NOW) -> list[Item]:
    with store.transaction() as tx:
        return tx.items.add(items, now=now)


def titles(index: FtsIndex, text: str) -> list[str]:
    results = index.search(parse_query(text), now=NOW, limit=50)
    return sorted(hit.item.title for hit in results.hits)


def indexed_through(data: Path) -> int:
    with sqlite3.connect(data / FILE_NAME) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'indexed_through'").fetchone()
    return int(row[0])


def test_a_new_process_searches_the_file_without_reading_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(store, news("a", "Gallium export curbs"), news("b", "半導体の輸出規制を強化"))
        index = FtsIndex(data, items=store.items)
        assert index.catch_up()
        index.close()
    # The file alone answers: no store opened, nothing indexed again.
    alone = FtsIndex(data)
    assert titles(alone, "gallium") == ["Gallium export curbs"]
    assert titles(alone, "輸出") == ["半導体の輸出規制を強化"]
    assert titles(alone, "導") == ["半導体の輸出規制を強化"]  # one CJK character
    alone.close()
    with TinyStore.open(data) as store:
        again = FtsIndex(data, items=store.items)
        assert again.indexed_through == store.items.last_seq == 2  # from the file, at open
        again.close()


def test_items_committed_but_not_indexed_are_caught_up_at_the_next_open(tmp_path: Path) -> None:
    """A crash between the store's commit and the index's update: the index is behind,
    never wrong, and the next process indexes only what is missing."""
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(store, news("a", "Gallium export curbs"))
        index = FtsIndex(data, items=store.items)
        index.catch_up()
        index.close()
        store_items(store, news("b", "Germanium export curbs"))  # then the process dies
    assert indexed_through(data) == 1
    with TinyStore.open(data) as store:
        index = FtsIndex(data, items=store.items)
        assert titles(index, "export") == ["Gallium export curbs", "Germanium export curbs"]
        assert index.indexed_through == 2
        index.close()


def test_an_index_killed_while_writing_keeps_what_it_committed_and_finishes_later(
    tmp_path: Path,
) -> None:
    """kill -9 while indexing 1,000 items in batches of 100, in the middle of the fourth."""
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(
            store, *(news(f"n{i}", f"Notice {i} on tariffs", "Duties rise.") for i in range(1000))
        )
    script = textwrap.dedent(
        f"""
        import os, signal
        from bot.store.tinydb.store import TinyStore
        from bot.store.searchdb.index import FtsIndex

        class DiesWhileReading:
            def __init__(self, items):
                self.items = items
            def __getattr__(self, name):
                return getattr(self.items, name)
            def after(self, seq=0):
                for item in self.items.after(seq):
                    if item.seq == 351:
                        os.kill(os.getpid(), signal.SIGKILL)
                    yield item

        store = TinyStore.open({str(data)!r}, read_only=True)
        FtsIndex({str(data)!r}, items=DiesWhileReading(store.items)).catch_up(chunk=100)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    assert indexed_through(data) == 300
    with sqlite3.connect(data / FILE_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM docs").fetchone() == (300,)
    with TinyStore.open(data) as store:
        index = FtsIndex(data, items=store.items)
        results = index.search(parse_query("tariffs"), now=NOW)
        assert (results.total, results.total_exact) == (1000, True)
        index.close()


def test_deleting_the_file_rebuilds_it_from_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(store, news("a", "Gallium export curbs"))
        FtsIndex(data, items=store.items).close()
        (data / FILE_NAME).unlink()
        index = FtsIndex(data, items=store.items)
        assert titles(index, "gallium") == ["Gallium export curbs"]
        index.close()


def test_a_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(store, news("a", "Gallium export curbs"))
        (data / FILE_NAME).write_bytes(b"not a database at all" * 100)
        index = FtsIndex(data, items=store.items)
        assert titles(index, "gallium") == ["Gallium export curbs"]
        index.close()


def test_the_file_of_another_data_directory_is_not_used(tmp_path: Path) -> None:
    """A data directory made again (or restored) holds other items under the same seqs."""
    first, second = tmp_path / "first", tmp_path / "second"
    with TinyStore.open(first) as store:
        store_items(store, news("a", "Gallium export curbs"))
        index = FtsIndex(first, items=store.items)
        index.catch_up()
        index.close()  # the last connection: the file holds everything (no -wal left)
    with TinyStore.open(second) as store:
        store_items(store, news("z", "Fisheries subsidies agreement"))
        shutil.copy(first / FILE_NAME, second / FILE_NAME)
        index = FtsIndex(second, items=store.items)
        assert titles(index, "gallium") == []
        assert titles(index, "fisheries") == ["Fisheries subsidies agreement"]
        index.close()


def test_pruned_items_leave_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TinyStore.open(data, retention_days=10) as store:
        store_items(store, news("old", "Gallium curbs of last year"), now=NOW - timedelta(days=30))
        store_items(store, news("new", "Gallium curbs tightened"))
        index = FtsIndex(data, items=store.items)
        assert len(titles(index, "gallium")) == 2
        assert store.prune(NOW) == 1
        assert titles(index, "gallium") == ["Gallium curbs tightened"]  # loaded from the store
        assert index.forget_pruned() == 1
        index.close()
    alone = FtsIndex(data)
    assert titles(alone, "gallium") == ["Gallium curbs tightened"]
    assert len(alone) == 1
    alone.close()


def test_the_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(store, news("a", "Gallium export curbs"))
        index = FtsIndex(data, items=store.items)
        index.catch_up()
        made = [path for path in data.iterdir() if path.name.startswith(FILE_NAME)]
        assert {path.name for path in made} >= {FILE_NAME, f"{FILE_NAME}-wal"}
        for path in made:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        index.close()


def test_a_reader_with_an_older_snapshot_neither_rebuilds_nor_drops_newer_items(
    tmp_path: Path,
) -> None:
    """`briefbot search` opens a snapshot; the service then stores and indexes more."""
    data = tmp_path / "data"
    with TinyStore.open(data, retention_days=10) as store:
        store_items(store, news("old", "Gallium curbs of last year"), now=NOW - timedelta(days=30))
        store_items(store, news("a", "Gallium export curbs"))
        service = FtsIndex(data, items=store.items)
        service.catch_up()
        snapshot = TinyStore.open(data, read_only=True, retention_days=10)
        store.prune(NOW)
        store_items(store, news("b", "Gallium smelters close"))
        service.catch_up()
        assert service.forget_pruned() == 1
        reader = FtsIndex(data, items=snapshot.items)  # the file is ahead of its snapshot
        reader.forget_pruned()  # it holds more than the snapshot: nothing of it goes
        reader.close()
        snapshot.close()
        assert titles(service, "gallium") == ["Gallium export curbs", "Gallium smelters close"]
        service.close()
    alone = FtsIndex(data)
    assert titles(alone, "gallium") == ["Gallium export curbs", "Gallium smelters close"]
    alone.close()


_FORMAT_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs (
    seq INTEGER PRIMARY KEY, story INTEGER NOT NULL, feed_id TEXT NOT NULL,
    when_us INTEGER NOT NULL
);
CREATE TABLE items (seq INTEGER PRIMARY KEY, item BLOB NOT NULL);
CREATE TABLE tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
CREATE VIRTUAL TABLE fts USING fts5 (
    title, summary, forms, chars, content='', tokenize='ascii', columnsize=1
);
INSERT INTO meta VALUES ('format', 'briefbot-search-1'), ('indexed_through', '1');
INSERT INTO docs VALUES (1, 1, 'fr-bis', 0);
INSERT INTO fts (rowid, title, summary, forms, chars) VALUES (1, 'gallium export curb', '', '', '');
"""


def test_a_file_of_the_previous_format_is_rebuilt_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        store_items(store, news("a", "Gallium export curbs"), news("b", "半導体の輸出規制を強化"))
    with sqlite3.connect(data / FILE_NAME) as conn:
        conn.executescript(_FORMAT_1)
    conn.close()
    # A reader of the file alone gets the database error `briefbot search` handles
    # by searching through the store.
    with pytest.raises(sqlite3.DatabaseError, match="another format"):
        FtsIndex(data)
    with TinyStore.open(data) as store:
        index = FtsIndex(data, items=store.items)
        assert index.indexed_through == 0  # made again, then caught up from the store
        assert titles(index, "gallium") == ["Gallium export curbs"]
        assert titles(index, "輸出") == ["半導体の輸出規制を強化"]
        index.close()
    alone = FtsIndex(data)  # the new file is kept: no second rebuild
    assert alone.indexed_through == 2
    assert titles(alone, "curbs") == ["Gallium export curbs"]
    alone.close()
