"""Catching up with the store while searches come in: a slow read, a failed one.

Ported from the in-memory engine's tests (deleted, issue 17): the store is a
real TinyStore; only its reading is slowed down or made to fail once
(`Reading`), as a slow or failing disk would.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from bot.find.query.parser import parse_query
from bot.models import Item
from bot.store.ports import ItemReader
from bot.store.searchdb.index import FtsIndex
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


class Reading:
    """The store's items, read through: `after` waits for `release` before an item past
    seq `pause_after` (setting `paused`), or raises `failure` (once) at that seq."""

    def __init__(self, items: ItemReader) -> None:
        self.items = items
        self.release: threading.Event | None = None
        self.paused = threading.Event()
        self.pause_after = 0
        self.failure: tuple[int, OSError] | None = None

    @property
    def last_seq(self) -> int:
        return self.items.last_seq

    def count(self) -> int:
        return self.items.count()

    def by_seq(self, seqs: Iterable[int]) -> list[Item]:
        return self.items.by_seq(seqs)

    def after(self, seq: int = 0, *, feed_ids: Collection[str] | None = None) -> Iterator[Item]:
        for item in self.items.after(seq, feed_ids=feed_ids):
            if self.release is not None and item.seq > self.pause_after:
                self.paused.set()
                self.release.wait(10)
            if self.failure is not None and item.seq == self.failure[0]:
                error, self.failure = self.failure[1], None
                raise error
            yield item


def stored(tmp_path: Path, count: int) -> TinyStore:
    store = TinyStore.open(tmp_path / "data")
    with store.transaction() as tx:
        news = [
            Item(id=f"n{n}", feed_id="fr-bis", title=f"Gallium {n}", summary="", published=NOW)
            for n in range(1, count + 1)
        ]
        tx.items.add(news, now=NOW)
    return store


def seqs_found(index: FtsIndex, wait: float) -> tuple[bool, list[int]]:
    results = index.search(parse_query("gallium"), now=NOW, limit=50, wait=wait)
    return results.complete, sorted(hit.item.seq for hit in results.hits)


def error_of(index: FtsIndex) -> str | None:
    return index.build_error


def test_a_search_during_the_first_catch_up_waits_only_its_wait(tmp_path: Path) -> None:
    with stored(tmp_path, 2) as store:
        reading = Reading(store.items)
        reading.release, reading.pause_after = threading.Event(), 1  # slow after the first
        index = FtsIndex(tmp_path / "data", items=cast(ItemReader, reading))
        thread = index.catch_up_in_background(chunk=1)
        try:
            assert reading.paused.wait(10), "the catch-up never reached the second item"
            assert seqs_found(index, wait=0.05) == (False, [1]), "partial, and it says so"
        finally:
            reading.release.set()
        assert seqs_found(index, wait=10) == (True, [1, 2])
        thread.join(5)
        index.close()


def test_a_catch_up_that_failed_is_reported_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    with stored(tmp_path, 5) as store:
        reading = Reading(store.items)
        reading.failure = (3, OSError("shard items-2026-11.json is unreadable"))
        index = FtsIndex(tmp_path / "data", items=cast(ItemReader, reading))
        assert index.catch_up(chunk=1) is False
        assert error_of(index) == (
            "indexing the stored items failed: shard items-2026-11.json is unreadable"
        )
        assert index.indexed_through == 2
        # The next search catches up again, from seq 3: the reading works now.
        assert seqs_found(index, wait=0) == (True, [1, 2, 3, 4, 5])
        assert (error_of(index), len(index)) == (None, 5)
        index.close()
