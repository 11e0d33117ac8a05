"""SearchIndex: questions and paging, changes, the background build, threads."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.find.search.index import SearchIndex
from bot.find.search.results import MAX_LIMIT
from bot.store.tinydb.store import TinyStore
from tests.find.search.sample import (
    NOW,
    assert_agrees_with_language,
    index_of,
    make_item,
    search,
    seqs,
)

# --------------------------------------------------------------------------- questions


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("what's new on IPEF", [1], id="filler-dropped"),
        pytest.param("anything about rare earth exports this week?", [2], id="time-phrase"),
        pytest.param("rare earth", [2, 3], id="plain-words"),
        pytest.param('"rare earth" feed:reuters', [3], id="query-syntax-kept"),
    ],
)
def test_plain_questions(line: str, expected: list[int]) -> None:
    index = index_of(
        make_item(1, "IPEF ministers meet in Singapore"),
        make_item(2, "Rare earth exports curbed", age=timedelta(days=2)),
        make_item(3, "Rare earth prices", feed_id="reuters", age=timedelta(days=30)),
    )
    results = index.search_text(line, now=NOW)
    assert_agrees_with_language(index, results)
    assert seqs(results) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("what's new", "names no subject", id="only-filler"),
        pytest.param('"entity list', "unclosed quote at column 1", id="syntax-error"),
    ],
)
def test_bad_lines_raise_query_errors(line: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        index_of(make_item(1, "x")).search_text(line, now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"limit": 0}, f"limit must be between 1 and {MAX_LIMIT}, not 0", id="limit"),
        pytest.param({"offset": -1}, "offset must be 0 or more, not -1", id="offset"),
    ],
)
def test_bad_paging_is_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        index_of(make_item(1, "x")).search(parse_query("x"), now=NOW, **kwargs)


def test_pages_do_not_overlap() -> None:
    index = index_of(
        *(make_item(i, f"Sanctions update {i}", age=timedelta(hours=i)) for i in range(1, 26))
    )
    everything = seqs(search(index, "sanctions", limit=25))
    pages = [seqs(search(index, "sanctions", limit=10, offset=start)) for start in (0, 10, 20)]
    assert pages[0] + pages[1] + pages[2] == everything == list(range(1, 26))
    assert search(index, "sanctions", limit=10, offset=20).total == 25


# --------------------------------------------------------------------------- changes


def test_removed_items_are_not_found() -> None:
    index = index_of(make_item(1, "Gallium curbs"), make_item(2, "Gallium prices"))
    assert index.remove(1) is True
    assert index.remove(1) is False
    assert len(index) == 1 and 1 not in index
    results = search(index, "gallium")
    assert seqs(results) == [2] and results.total == 1


def test_items_without_a_seq_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    index = index_of(make_item(0, "Parsed, not stored"), make_item(5, "Stored gallium"))
    assert len(index) == 1
    assert seqs(search(index, "gallium")) == [5]
    assert "1 item(s) without a seq skipped, such as 'item-0' of feed 'fr-bis'" in caplog.text


def test_adding_a_seq_again_replaces_the_item() -> None:
    index = index_of(make_item(1, "Draft title about chips"))
    index.add(make_item(1, "Final title about gallium"))
    assert len(index) == 1
    assert search(index, "chips").total == 0
    assert seqs(search(index, "gallium")) == [1]


def test_mass_removal_compacts_and_stays_correct() -> None:
    items = [
        make_item(i, f"Notice {i} on {'gallium' if i % 2 else 'tariffs'}") for i in range(1, 3001)
    ]
    index = index_of(*items)
    for seq in range(1, 2401):
        index.remove(seq)
    assert index.stats()["dead"] < 1000  # compacted at least once
    results = search(index, "gallium", limit=200)
    assert results.total == 300
    assert all(hit.item.seq > 2400 and hit.item.seq % 2 for hit in results.hits)
    assert search(index, "-gallium").total == 300


def test_items_load_from_a_real_store(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path) as store:
        with store.transaction() as tx:
            stored = tx.items.add(
                [
                    make_item(0, "Entity List additions", "BIS adds 36 entities."),
                    make_item(0, "Other"),
                ],
                now=NOW,
            )
        index = SearchIndex(load_items=store.items.by_seq)
        index.build_in_background(store.items.after)
        assert index.wait_ready(10)
        results = search(index, "entities")
        assert [hit.item.id for hit in results.hits] == [stored[0].id]
        assert results.hits[0].item.summary == "BIS adds 36 entities."


# --------------------------------------------------------------------------- background build


def test_searches_wait_for_a_background_build() -> None:
    release = threading.Event()

    def items() -> Any:
        yield make_item(1, "Gallium early")
        release.wait(10)
        yield make_item(2, "Gallium late")

    index = SearchIndex()
    thread = index.build_in_background(items, chunk=1)
    partial = index.search(parse_query("gallium"), now=NOW, wait=0.05)
    assert partial.complete is False
    assert seqs(partial) == [1]
    release.set()
    full = index.search(parse_query("gallium"), now=NOW, wait=10)
    assert full.complete is True
    assert set(seqs(full)) == {1, 2}
    thread.join(5)


def test_a_failed_build_is_reported() -> None:
    def items() -> Any:
        yield make_item(1, "Gallium early")
        raise OSError("shard items-2026-11.json is unreadable")

    index = SearchIndex()
    index.build_in_background(items, chunk=1).join(5)
    assert index.build_error == (
        "building the search index failed: shard items-2026-11.json is unreadable"
    )
    results = index.search(parse_query("gallium"), now=NOW)
    assert results.complete is False and seqs(results) == [1]


# --------------------------------------------------------------------------- following a store


def test_an_index_that_follows_a_store_finds_what_was_stored_since(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path) as store:
        with store.transaction() as tx:
            tx.items.add([make_item(1, "Gallium quotas")], now=NOW)
        index = SearchIndex(load_items=store.items.by_seq, load_after=store.items.after)
        index.catch_up_in_background()
        assert index.wait_ready(10)
        with store.transaction() as tx:
            later = tx.items.add([make_item(2, "Gallium exports halted")], now=NOW)
        # Nothing was added to the index: the search catches up with the store itself.
        results = search(index, "gallium")
        assert results.complete is True
        assert sorted(hit.item.title for hit in results.hits) == [
            "Gallium exports halted",
            "Gallium quotas",
        ]
        assert index.indexed_through == later[0].seq
        assert index.catch_up() is True and len(index) == 2  # nothing twice


def test_a_catch_up_that_failed_resumes_where_it_stopped() -> None:
    stored = [make_item(seq, f"Gallium {seq}") for seq in range(1, 6)]
    failures = [OSError("shard items-2026-11.json is unreadable")]

    def load_after(seq: int) -> Any:
        for item in stored:
            if item.seq > seq:
                if item.seq == 3 and failures:
                    raise failures.pop()
                yield item

    index = SearchIndex(load_after=load_after)
    assert index.catch_up(chunk=1) is False
    reported = index.build_error
    assert reported == "indexing the stored items failed: shard items-2026-11.json is unreadable"
    assert index.indexed_through == 2
    partial = search(index, "gallium", wait=0)
    # That search caught up again, from seq 3: the reading works now.
    assert partial.complete is True and sorted(seqs(partial)) == [1, 2, 3, 4, 5]
    assert index.build_error is None and len(index) == 5


def test_a_search_during_the_first_catch_up_waits_only_its_wait() -> None:
    release = threading.Event()

    def load_after(seq: int) -> Any:
        if seq < 1:
            yield make_item(1, "Gallium early")
        if seq < 2:
            release.wait(10)  # a slow read, after the first item was indexed
            yield make_item(2, "Gallium late")

    index = SearchIndex(load_after=load_after)
    thread = index.catch_up_in_background(chunk=1)
    partial = index.search(parse_query("gallium"), now=NOW, wait=0.05)
    assert partial.complete is False
    assert seqs(partial) == [1]
    release.set()
    full = index.search(parse_query("gallium"), now=NOW, wait=10)
    assert full.complete is True
    assert set(seqs(full)) == {1, 2}
    thread.join(5)


# --------------------------------------------------------------------------- threads


def test_searches_never_see_half_an_item(caplog: pytest.LogCaptureFixture) -> None:
    """Every item has "alpha" in its title and "omega" in its summary: a search
    that saw the title half of an item without the summary half would find it
    for `alpha -omega` (or log that a hit failed its final check)."""
    index = SearchIndex()
    stop = threading.Event()
    failures: list[str] = []

    def guarded(body: Any) -> Any:
        def run() -> None:
            try:
                body()
            except Exception as error:  # a crash in a thread must fail the test
                failures.append(f"{body.__name__}: {error!r}")
                stop.set()

        return run

    @guarded
    def write() -> None:
        for seq in range(1, 3001):  # one by one: as many half-added moments as can be
            index.add(make_item(seq, f"alpha {seq}", "omega text"))
        for seq in range(1, 3001, 2):  # half: compacts the index mid-way
            index.remove(seq)
        stop.set()

    @guarded
    def read() -> None:
        rounds = 0
        while not stop.is_set():
            for query in ("alpha -omega", "omega -alpha"):
                if (found := search(index, query)).total:
                    failures.append(f"{query}: {seqs(found)}")
            rounds += 1
            if rounds % 10 == 0:
                # search() checks each hit against the query language.
                found = search(index, "alpha omega", limit=50)
                if len(found.hits) != min(50, found.total):
                    failures.append(f"{len(found.hits)} hits of {found.total}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so races show
    try:
        threads = [threading.Thread(target=write)]
        threads += [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(old)
    assert failures == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bot.find.search.")] == []
    assert len(index) == 1500
    assert index.stats()["dead"] < 1024  # it did compact
    assert search(index, "alpha omega", limit=1).total == 1500
