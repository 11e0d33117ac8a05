"""Retention: pruned items stay known by their tombstones until those expire too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store.ports import StoreError
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import NOW, add, data_files, item, listing


def test_pruned_item_is_still_known_until_its_tombstone_expires(tmp_path: Path) -> None:
    data = tmp_path / "d"
    old = item("old", link_title_key="k-old")
    newer = item("newer")
    with TinyStore.open(data, retention_days=10, seen_retention_days=30) as s:
        add(s, [old], now=datetime(2025, 12, 28, tzinfo=UTC))
        add(s, [newer], now=datetime(2026, 1, 5, tzinfo=UTC))
        assert s.prune(datetime(2026, 1, 10, tzinfo=UTC)) == 1
        assert s.items.count() == 1
        assert s.items.get("fr-bis", "old") is None
    # The emptied December shard is gone; its ids live on in seen-2025-12.json.
    assert [p.name for p in data_files(data)] == [
        "items-2026-01.json",
        "seen-2025-12.json",
        "state.json",
    ]
    # Tombstones are written like item shards: one per line, seq and keys first.
    seen_lines = (data / "seen-2025-12.json").read_bytes().split(b"\n")
    assert len(seen_lines) == 3
    assert seen_lines[1].startswith(b'"1":{"seq":1,"dedup_keys":["fr-bis\\u001fid\\u001fold",')
    before = listing(data)
    with TinyStore.open(data, retention_days=10, seen_retention_days=30) as s:
        # Read line by line, nothing to convert: opening rewrote nothing.
        assert listing(data)["seen-2025-12.json"] == before["seen-2025-12.json"]
        assert s.items.is_known(old)
        assert s.items.is_known(item("old-with-new-guid", link_title_key="k-old"))
        assert add(s, [old], now=datetime(2026, 1, 12, tzinfo=UTC)) == []
        assert s.stats().tombstones == 1
        # Dec 28 + 30 days = Jan 27: one day before, still known; one after, forgotten.
        s.prune(datetime(2026, 1, 26, tzinfo=UTC))
        assert s.items.is_known(old)
        assert s.items.is_known(newer)  # pruned now too, tombstoned
        assert s.items.count() == 0
        s.prune(datetime(2026, 1, 28, tzinfo=UTC))
        assert not s.items.is_known(old)
        assert s.items.is_known(newer)
    assert [p.name for p in data_files(data)] == ["seen-2026-01.json", "state.json"]
    with TinyStore.open(data, retention_days=10, seen_retention_days=30) as s:
        assert not s.items.is_known(old)
        (again,) = add(s, [old], now=datetime(2026, 1, 28, tzinfo=UTC))
    assert again.seq == 3


def test_failed_tombstone_write_loses_no_tombstone(tmp_path: Path) -> None:
    data = tmp_path / "d"
    olds = [item(f"old-{n}") for n in range(3)]
    with TinyStore.open(data, retention_days=10, seen_retention_days=30) as s:
        add(s, olds, now=datetime(2026, 1, 2, tzinfo=UTC))
        add(s, [item("new")], now=datetime(2026, 1, 20, tzinfo=UTC))
        # A directory where the temp file must go: the tombstone write fails.
        blocker = data / ".seen-2026-01.json.tmp"
        blocker.mkdir()
        with pytest.raises(StoreError) as failed:
            s.prune(datetime(2026, 1, 20, tzinfo=UTC))
        assert "seen-2026-01.json" in str(failed.value)
        assert s.items.count() == 4, "no item is removed before its tombstone is on disk"
        blocker.rmdir()
        assert s.prune(datetime(2026, 1, 20, tzinfo=UTC)) == 3
    with TinyStore.open(data, retention_days=10, seen_retention_days=30) as s:
        assert [s.items.is_known(i) for i in olds] == [True, True, True]
        assert add(s, olds, now=datetime(2026, 1, 21, tzinfo=UTC)) == []


def test_tombstone_expires_on_the_day_of_the_cutoff(tmp_path: Path) -> None:
    data = tmp_path / "d"
    old = item("old")
    with TinyStore.open(data, retention_days=1, seen_retention_days=31) as s:
        add(s, [old], now=datetime(2026, 1, 1, 6, tzinfo=UTC))
        s.prune(datetime(2026, 1, 10, tzinfo=UTC))
        assert s.items.is_known(old)
        # Cutoff Feb 1 12:00 - 31 days = Jan 1 12:00: after 06:00, so it expires.
        s.prune(datetime(2026, 2, 1, 12, tzinfo=UTC))
        assert not s.items.is_known(old)


def test_crash_mid_prune_leaves_a_store_that_opens_and_finishes_the_prune(tmp_path: Path) -> None:
    data = tmp_path / "d"
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    with TinyStore.open(data, retention_days=10) as s:
        add(s, [item("a"), item("b")], now=t0)
    shard = (data / "items-2026-10.json").read_bytes()
    with TinyStore.open(data, retention_days=10) as s:
        assert s.prune(t0 + timedelta(days=11)) == 2
    # A crash after the tombstones were written and before the items were
    # removed leaves both on disk: put the old shard back.
    (data / "items-2026-10.json").write_bytes(shard)
    with TinyStore.open(data, retention_days=10) as s:
        assert (s.items.count(), s.stats().tombstones) == (2, 2)
        assert add(s, [item("a")], now=t0 + timedelta(days=12)) == []
        assert s.prune(t0 + timedelta(days=12)) == 2
        stats = s.stats()
        assert (s.items.count(), stats.tombstones, stats.last_seq) == (0, 2, 2)
    assert [p.name for p in data_files(data)] == ["seen-2026-10.json", "state.json"]


def test_seq_never_goes_back_after_everything_expired(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data, retention_days=1, seen_retention_days=1) as s:
        add(s, [item("a"), item("b"), item("c")])
        assert s.prune(NOW + timedelta(days=5)) == 3
        assert s.stats().tombstones == 0
    assert [p.name for p in data_files(data)] == ["state.json"]
    with TinyStore.open(data, retention_days=1, seen_retention_days=1) as s:
        assert s.items.count() == 0
        assert [i.seq for i in add(s, [item("d")], now=NOW + timedelta(days=5))] == [4]


def test_prune_is_durable_on_return(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data, retention_days=10) as s:
        add(s, [item("a")], now=NOW - timedelta(days=20))
        add(s, [item("b")])
        assert s.prune(NOW) == 1
        # Another process reading now (without the lock) sees the prune done.
        with TinyStore.open(data, retention_days=10, read_only=True) as reader:
            assert [i.id for i in reader.items.after()] == ["b"]
            assert reader.items.is_known(item("a"))
            assert reader.stats().tombstones == 1
