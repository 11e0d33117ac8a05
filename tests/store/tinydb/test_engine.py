"""The engine's commits: new file versions written, then swapped in; what a failed write leaves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import FeedState, Subscription
from bot.store.ports import StoreError
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import NOW, add, data_files, item, listing

OCTOBER = datetime(2026, 10, 30, 12, tzinfo=UTC)


def test_seq_keeps_rising_across_reopen(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as s:
        add(s, [item("a"), item("b"), item("c")])
    with TinyStore.open(tmp_path / "d") as s:
        assert s.items.last_seq == 3
        added = add(s, [item("d"), item("e")], now=NOW + timedelta(days=40))
    assert [i.seq for i in added] == [4, 5]


def test_a_commit_replaces_files_and_never_changes_one_in_place(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("a")])
        first = listing(data)
        with (data / "items-2026-11.json").open("rb") as old:  # a reader of the old version
            with s.transaction() as tx:
                tx.items.add([item("b")], now=NOW)
                tx.feed_states.put(FeedState(feed_id="fr-bis", etag="e"))
            assert old.read() == first["items-2026-11.json"][2]
        second = listing(data)
    for name in ("items-2026-11.json", "state.json"):
        assert second[name][0] != first[name][0], f"{name} was written in place"
    assert b'"Title of b"' in second["items-2026-11.json"][2]
    assert not [name for name in second if name.endswith(".tmp")]


def test_a_transaction_in_two_months_writes_two_shards(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s, s.transaction() as tx:
        tx.items.add([item("late-october")], now=OCTOBER)
        tx.items.add([item("november")], now=NOW)
    assert [p.name for p in data_files(data)] == [
        "items-2026-10.json",
        "items-2026-11.json",
        "state.json",
    ]
    with TinyStore.open(data) as s:
        assert [(i.id, i.seq) for i in s.items.after()] == [("late-october", 1), ("november", 2)]


def test_failed_shard_write_changes_nothing(tmp_path: Path) -> None:
    """A real write failure: a directory stands where the shard's temp file must go (EISDIR).

    (chmod would not stop the root user the tests run as.) The commit writes
    every shard's temp file before renaming any: the October shard, written
    first, must not appear either.
    """
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        with s.transaction() as tx:
            tx.items.add([item("a")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="1"))
        before = listing(data)
        blocker = data / ".items-2026-11.json.tmp"
        blocker.mkdir()
        with pytest.raises(StoreError) as failed, s.transaction() as tx:
            tx.items.add([item("late-october")], now=OCTOBER)
            tx.items.add([item("b"), item("c")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="2"))
            tx.alerts.set_match_cursor(4)
        assert f"cannot write {data / 'items-2026-11.json'}" in str(failed.value)
        # Nothing changed, in memory...
        assert [i.id for i in s.items.after()] == ["a"]
        assert not s.items.is_known(item("b"))
        assert not s.items.is_known(item("late-october"))
        assert (s.items.count(), s.items.last_seq) == (1, 1)
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"
        assert s.alerts.match_cursor() == 0
        # ...or on disk (the temp files written before the failure are gone).
        blocker.rmdir()
        assert listing(data) == before
        # The next transaction works, after the seqs the failed one was given.
        assert [i.seq for i in add(s, [item("b")])] == [5]
    with TinyStore.open(data) as s:
        assert [(i.id, i.seq) for i in s.items.after()] == [("a", 1), ("b", 5)]
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"


def test_failed_state_write_keeps_the_items_and_drops_the_rest(tmp_path: Path) -> None:
    """A real write failure: a directory stands where state.json's temp file must go (EISDIR).

    The item shards are already written when state.json fails: the items stay,
    in memory and on disk, and the feed state and records of the transaction
    are dropped, as a crash between the two writes would leave it (see
    test_crash.py). The next poll refetches the feed and dedup drops its items.
    """
    data = tmp_path / "d"
    sub = Subscription(id="s-1", owner="U1", created_by="U1", created_at=NOW, topic="chips")

    def check(store: TinyStore) -> None:
        assert [(i.id, i.seq) for i in store.items.after()] == [("a", 1), ("b", 2), ("c", 3)]
        assert store.items.last_seq == 3
        state = store.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"
        assert store.alerts.match_cursor() == 1
        assert store.subscriptions.list() == []

    with TinyStore.open(data) as s:
        with s.transaction() as tx:
            tx.items.add([item("a")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="1"))
            tx.alerts.set_match_cursor(1)
        state_before = (data / "state.json").read_bytes()
        blocker = data / ".state.json.tmp"
        blocker.mkdir()
        with pytest.raises(StoreError) as failed, s.transaction() as tx:
            tx.items.add([item("b"), item("c")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="2"))
            tx.alerts.set_match_cursor(3)
            tx.subscriptions.put(sub)
        assert f"cannot write {data / 'state.json'}" in str(failed.value)
        blocker.rmdir()
        check(s)
    assert (data / "state.json").read_bytes() == state_before
    with TinyStore.open(data) as s:
        check(s)  # the same after a restart
        with s.transaction() as tx:
            assert tx.items.add([item("b"), item("c")], now=NOW) == []
            assert [i.seq for i in tx.items.add([item("d")], now=NOW)] == [4]
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="2"))
    high_water = json.loads((data / "state.json").read_bytes())["_meta"]["1"]["seq_high_water"]
    assert high_water == 4


def test_high_water_mark_follows_every_commit(tmp_path: Path) -> None:
    data = tmp_path / "d"

    def high_water() -> int:
        meta = json.loads((data / "state.json").read_bytes())["_meta"]["1"]
        value: int = meta.get("seq_high_water", 0)
        return value

    with TinyStore.open(data) as s:
        add(s, [item("a"), item("b")])
        assert high_water() == 2
        with s.transaction() as tx:
            tx.feed_states.put(FeedState(feed_id="fr-bis"))
        assert high_water() == 2
        add(s, [item("c")])
        assert high_water() == 3
