"""TinyStore.open(..., read_only=True): no lock, nothing written, a consistent snapshot."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tinydb import TinyDB

from bot.models import FeedState
from bot.store.ports import Heartbeat, StoreReadOnlyError
from bot.store.tinydb.migrations import SCHEMA_VERSION
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import (
    NOW,
    add,
    committed_lines,
    held,
    item,
    listing,
    release,
    start_worker,
)
from tests.support.store_worker import loop_rounds


def write_old_layouts(data: Path) -> None:
    """A TinyDB-layout shard, a version-0 state.json and a crash's temp file."""
    data.mkdir()
    with TinyDB(data / "items-2026-11.json", access_mode="r+") as db:
        db.table("_meta").insert({"schema": SCHEMA_VERSION, "kind": "items"})
        db.table("items").insert(
            {
                "id": "t1",
                "feed_id": "fr-bis",
                "title": "Written by TinyDB",
                "first_seen": "2026-11-02T10:00:00+00:00",
                "dedup_keys": list(item("t1").dedup_keys),
            }
        )
    v0_state = {"feeds": {"1": {"key": "fr-bis", "value": {"feed_id": "fr-bis", "etag": "v0"}}}}
    (data / "state.json").write_text(json.dumps(v0_state))
    (data / ".state.json.tmp").write_text('{"half": ')


def test_opening_to_read_takes_no_lock_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    write_old_layouts(data)
    before = listing(data)
    with TinyStore.open(data, read_only=True) as s:
        assert s.read_only
        # Read in the old layouts, converted in memory only.
        t1 = s.items.get("fr-bis", "t1")
        assert t1 is not None and t1.title == "Written by TinyDB"
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "v0"
        with (
            pytest.raises(StoreReadOnlyError, match="was opened to read; this needs to write"),
            s.transaction(),
        ):
            pass
        with pytest.raises(StoreReadOnlyError, match="was opened to read; this needs to write"):
            s.prune(NOW)
        assert listing(data) == before
    # Not even a LOCK or owner.json: the stale temp file and the old layouts are left alone.
    assert listing(data) == before
    with TinyStore.open(data) as s:  # the writer converts them
        assert not (data / ".state.json.tmp").exists()
        assert listing(data)["items-2026-11.json"] != before["items-2026-11.json"]


def test_a_missing_directory_reads_as_empty_and_is_not_created(tmp_path: Path) -> None:
    data = tmp_path / "not" / "yet"
    with TinyStore.open(data, read_only=True) as s:
        assert (s.items.count(), s.items.last_seq, list(s.items.after())) == (0, 0, [])
        assert not s.items.is_known(item("a"))
        assert s.feed_states.all() == {}
        assert s.subscriptions.list() == []
        assert s.alerts.match_cursor() == 0
        stats = s.stats()
        assert (stats.items, stats.tombstones, stats.last_seq, stats.bytes) == (0, 0, 0, 0)
        with pytest.raises(StoreReadOnlyError), s.transaction():
            pass
    assert not (tmp_path / "not").exists()


def test_reading_while_another_process_holds_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s, s.transaction() as tx:
        tx.items.add([item("a"), item("b")], now=NOW)
        tx.feed_states.put(FeedState(feed_id="fr-bis", etag="e1"))
    with held(data) as holder:
        before = listing(data)
        with TinyStore.open(data, read_only=True) as s:
            assert [i.id for i in s.items.after()] == ["a", "b"]
            state = s.feed_states.get("fr-bis")
            assert state is not None and state.etag == "e1"
            holder_named = f"data directory {data} is in use by process {holder.pid} "
            with pytest.raises(StoreReadOnlyError) as refused, s.transaction():
                pass
            assert str(refused.value).startswith(holder_named)
            with pytest.raises(StoreReadOnlyError) as refused:
                s.prune(NOW)
            assert str(refused.value).startswith(holder_named)
        assert listing(data) == before
        release(holder)


def test_a_reader_does_not_name_a_dead_process_as_the_holder(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with held(data) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert (data / "owner.json").exists()  # left behind by the killed holder
    with (
        TinyStore.open(data, read_only=True) as s,
        pytest.raises(StoreReadOnlyError) as refused,
        s.transaction(),
    ):
        pass
    assert f"in use by process {holder.pid} " not in str(refused.value)


def test_a_reader_in_the_writing_process_sees_a_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as writer:
        add(writer, [item("a")])
        with TinyStore.open(data, read_only=True) as reader:
            add(writer, [item("b")])
            assert [i.id for i in reader.items.after()] == ["a"]
            assert not reader.items.is_known(item("b"))
            with pytest.raises(StoreReadOnlyError, match=f"in use by process {os.getpid()} "):
                reader.prune(NOW)
        with TinyStore.open(data, read_only=True) as reader:
            assert [i.id for i in reader.items.after()] == ["a", "b"]


@pytest.mark.slow
def test_snapshots_taken_while_a_writer_commits_are_consistent(tmp_path: Path) -> None:
    """Each snapshot holds a prefix of what the writer committed, never a gap or a repeat.

    The writer (`store_worker.py loop`) commits one round per transaction: its
    items, its feed's state (ETag "r<round>") and the match cursor (its last
    seq). Whatever state.json a snapshot read, the items it implies are there.
    """
    seed = 11
    data = tmp_path / "data"
    writer = start_worker("loop", str(data), str(seed))
    output: list[str] = []
    assert writer.stdout is not None and writer.stderr is not None
    first = writer.stdout.readline()
    assert first.startswith("committed"), first + writer.stderr.read()
    drain = threading.Thread(target=lambda: output.extend(writer.stdout or ()), daemon=True)
    drain.start()

    expected_ids: list[str] = []  # every id the writer commits, in order
    totals: list[int] = []  # by round: how many items were committed up to it
    rounds = loop_rounds(seed)

    def expect(count: int = 0, round_no: int = 0) -> None:
        while len(expected_ids) < count or len(totals) <= round_no:
            _, _, batch = next(rounds)
            expected_ids.extend(i.id for i in batch)
            totals.append(len(expected_ids))

    sizes: list[int] = []
    try:
        deadline = time.monotonic() + 3
        for _ in itertools.count():
            if time.monotonic() > deadline and len(sizes) >= 5:
                break
            with TinyStore.open(data, read_only=True) as snapshot:
                items = list(snapshot.items.after())
                states = snapshot.feed_states.all()
                cursor = snapshot.alerts.match_cursor()
                last_seq = snapshot.items.last_seq
            n = len(items)
            expect(n)
            assert [i.seq for i in items] == list(range(1, n + 1))
            assert [i.id for i in items] == expected_ids[:n]
            assert len({(i.feed_id, i.id) for i in items}) == n
            assert last_seq == n, "the high-water mark is ahead of the items"
            assert cursor <= n, "the match cursor points past the items"
            for state in states.values():
                assert state.etag is not None
                round_no = int(state.etag.removeprefix("r"))
                expect(round_no=round_no)
                assert totals[round_no] <= n, f"round {round_no}'s items are missing"
            assert not sizes or n >= sizes[-1], "a later snapshot holds fewer items"
            sizes.append(n)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL, writer.stderr.read()
    drain.join(timeout=30)
    print(f"{len(sizes)} snapshots of sizes {sizes}")
    assert len(set(sizes)) >= 3, f"the writer hardly committed while the reader read: {sizes}"
    assert committed_lines(first + "".join(output))[-1][0] >= sizes[-1]


def test_a_reader_sees_each_new_heartbeat_and_may_not_beat(tmp_path: Path) -> None:
    data = tmp_path / "data"
    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    with TinyStore.open(data) as writer, TinyStore.open(data, read_only=True) as reader:
        assert reader.last_heartbeat() is None
        writer.beat(Heartbeat(at=at, pid=1, slack_mode="socket", slack_ok=True))
        # Read when asked, not from the snapshot taken at open.
        assert reader.last_heartbeat() == Heartbeat(
            at=at, pid=1, slack_mode="socket", slack_ok=True
        )
        with pytest.raises(StoreReadOnlyError):
            reader.beat(Heartbeat(at=at, pid=2, slack_mode="socket", slack_ok=True))
