"""TinyStore transactions: commit at the end of the block, rollback on an exception, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.models import Alert, FeedState, Item, Subscription
from bot.store.ports import StoreError
from bot.store.tinydb import engine as engine_module
from bot.store.tinydb import files as files_module
from bot.store.tinydb.files import Writable
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import NOW, add, item, listing

TIMEOUT = 30


class Worker(threading.Thread):
    """A daemon thread running `work`; `joined` re-raises what it raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:
            self.errors.append(exc)


def in_thread(work: Callable[[], Any]) -> Worker:
    worker = Worker(work)
    worker.start()
    return worker


def joined(worker: Worker, timeout: float = TIMEOUT) -> None:
    worker.join(timeout)
    assert not worker.is_alive(), "the thread is still blocked"
    if worker.errors:
        raise worker.errors[0]


def test_a_transaction_commits_when_its_block_ends(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        with s.transaction() as tx:
            tx.items.add([item("a"), item("b")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="1"))
            # Not visible to the store, nor on disk, until the block ends.
            assert not s.items.is_known(item("a"))
            assert s.feed_states.get("fr-bis") is None
            assert not (data / "items-2026-11.json").exists()
        assert [i.id for i in s.items.after()] == ["a", "b"]
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"
    # Durable: another store (as after a restart) finds it.
    with TinyStore.open(data) as s:
        assert [i.id for i in s.items.after()] == ["a", "b"]
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"


def test_exception_in_a_transaction_rolls_all_of_it_back(tmp_path: Path) -> None:
    data = tmp_path / "d"
    sub = Subscription(id="s-1", owner="U1", created_by="U1", created_at=NOW, topic="chips")
    with TinyStore.open(data) as s:
        with s.transaction() as tx:
            tx.items.add([item("a", extras={"n": 1}), item("b")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="1"))
        before = listing(data)
        with pytest.raises(RuntimeError, match="poll failed half-way"), s.transaction() as tx:
            tx.items.add([item("c")], now=NOW)
            tx.items.update_extras("fr-bis", "a", {"n": 2})
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="2"))
            tx.subscriptions.put(sub)
            tx.alerts.enqueue([Alert("U1", 3, ("s-1",), NOW, NOW)])
            tx.alerts.set_match_cursor(3)
            raise RuntimeError("poll failed half-way")
        # Nothing of it is visible...
        assert not s.items.is_known(item("c"))
        assert [(i.id, i.extras) for i in s.items.after()] == [("a", {"n": 1}), ("b", {})]
        assert (s.items.count(), s.items.last_seq) == (2, 2)
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"
        assert s.subscriptions.list() == []
        assert (s.alerts.queued(), s.alerts.match_cursor()) == ([], 0)
        # ...nor written.
        assert listing(data) == before
    with TinyStore.open(data) as s:
        assert [i.id for i in s.items.after()] == ["a", "b"]
        state = s.feed_states.get("fr-bis")
        assert state is not None and state.etag == "1"
        # The rolled-back seq was never durable: a restarted process may use it.
        assert [i.seq for i in add(s, [item("c")])] == [3]


def test_exception_outside_a_transaction_keeps_what_was_committed(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), TinyStore.open(tmp_path / "d") as s:
        add(s, [item("a")])
        raise RuntimeError("the job failed after its transaction")
    with TinyStore.open(tmp_path / "d") as s:
        assert s.items.count() == 1


def test_seqs_of_a_rolled_back_transaction_are_not_handed_out_again(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as s:
        assert [i.seq for i in add(s, [item("a")])] == [1]
        with pytest.raises(KeyError), s.transaction() as tx:
            assert [i.seq for i in tx.items.add([item("b"), item("c")], now=NOW)] == [2, 3]
            raise KeyError("rolled back")
        assert s.items.last_seq == 1
        with s.transaction() as tx:
            assert tx.items.add([item("b")], now=NOW)[0].seq == 4
            assert tx.items.last_seq == 4
        assert [i.seq for i in s.items.after()] == [1, 4]


def test_a_second_transaction_on_the_same_thread_is_refused(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as s:
        with s.transaction() as tx:
            tx.items.add([item("a")], now=NOW)
            with (
                pytest.raises(RuntimeError, match="inside a transaction on the same thread"),
                s.transaction(),
            ):
                pass
            tx.items.add([item("b")], now=NOW)
        # The outer one was not disturbed, and the store takes the next one.
        assert [i.id for i in s.items.after()] == ["a", "b"]
        add(s, [item("c")])
        assert s.items.count() == 3


def test_transactions_on_two_threads_run_one_after_the_other(tmp_path: Path) -> None:
    first_in, second_in, finish_first = threading.Event(), threading.Event(), threading.Event()
    seen_by_second: list[bool] = []
    with TinyStore.open(tmp_path / "d") as s:

        def first() -> None:
            with s.transaction() as tx:
                tx.items.add([item("a")], now=NOW)
                first_in.set()
                assert finish_first.wait(TIMEOUT)

        def second() -> None:
            assert first_in.wait(TIMEOUT)
            with s.transaction() as tx:
                second_in.set()
                seen_by_second.append(tx.items.is_known(item("a")))
                tx.items.add([item("b")], now=NOW)

        one, two = in_thread(first), in_thread(second)
        assert first_in.wait(TIMEOUT)
        assert not second_in.wait(0.3), "the second transaction began during the first"
        finish_first.set()
        joined(one)
        joined(two)
        assert seen_by_second == [True], "the second did not see the first's commit"
        assert [(i.id, i.seq) for i in s.items.after()] == [("a", 1), ("b", 2)]


def test_readers_never_wait_for_a_commit_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit's disk writes are held open (monkeypatched `engine.write_files` waits).

    Reads from other threads return meanwhile, and see the old state until the
    new one is swapped in: item shards first, state.json after them.
    """
    real_write = files_module.write_files  # what engine.py imported
    writing, proceed = threading.Event(), threading.Event()

    def slow_write(files: Iterable[Writable], directory: Path) -> None:
        files = list(files)
        writing.set()
        assert proceed.wait(TIMEOUT)
        proceed.clear()
        writing.clear()
        real_write(files, directory)

    between = threading.Event()
    with TinyStore.open(tmp_path / "d") as s:
        add(s, [item("a")])
        monkeypatch.setattr(engine_module, "write_files", slow_write)
        s.engine.after_shard_flush = between.set

        def commit() -> None:
            with s.transaction() as tx:
                tx.items.add([item("b")], now=NOW)
                tx.feed_states.put(FeedState(feed_id="fr-bis", etag="new"))

        observed: list[tuple[int, bool, FeedState | None]] = []

        def read() -> None:
            known = s.items.is_known(item("b"))
            observed.append((s.items.count(), known, s.feed_states.get("fr-bis")))

        writer = in_thread(commit)
        assert writing.wait(TIMEOUT)  # the item shard is being written
        joined(in_thread(read))
        proceed.set()
        assert between.wait(TIMEOUT)
        assert writing.wait(TIMEOUT)  # now state.json, after the shards were swapped in
        joined(in_thread(read))
        proceed.set()
        joined(writer)
        read()
    assert observed == [
        (1, False, None),
        (2, True, None),
        (2, True, FeedState(feed_id="fr-bis", etag="new")),
    ]


def test_prune_inside_a_transaction_is_refused_not_a_deadlock(tmp_path: Path) -> None:
    s = TinyStore.open(tmp_path / "d")
    outcome: list[BaseException | None] = []

    def prune_in_transaction() -> None:
        with s.transaction():
            try:
                s.prune(NOW)
            except RuntimeError as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

    worker = in_thread(prune_in_transaction)
    worker.join(2)
    assert not worker.is_alive(), "prune() inside a transaction deadlocked"
    assert outcome and isinstance(outcome[0], RuntimeError)
    s.close()


def test_close_lets_a_running_transaction_finish(tmp_path: Path) -> None:
    data = tmp_path / "d"
    inside, finish = threading.Event(), threading.Event()
    s = TinyStore.open(data)

    def work() -> None:
        with s.transaction() as tx:
            tx.items.add([item("a")], now=NOW)
            inside.set()
            assert finish.wait(TIMEOUT)

    writer = in_thread(work)
    assert inside.wait(TIMEOUT)
    closer = in_thread(s.close)
    closer.join(0.3)
    assert closer.is_alive(), "close did not wait for the transaction"
    finish.set()
    joined(writer)
    joined(closer)
    with TinyStore.open(data) as again:
        assert again.items.is_known(item("a"))


def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    s = TinyStore.open(tmp_path / "d")
    s.close()
    s.close()
    with pytest.raises(StoreError, match="is closed"), s.transaction():
        pass
    with pytest.raises(StoreError, match="is closed"):
        s.prune(NOW)
    # The directory was released.
    with TinyStore.open(tmp_path / "d") as again:
        assert again.items.count() == 0


def test_threads_adding_and_reading_at_once(tmp_path: Path) -> None:
    ids = [f"id-{n}" for n in range(600)]
    errors: list[BaseException] = []
    stored: list[Item] = []
    stored_lock = threading.Lock()

    with TinyStore.open(tmp_path / "d") as s:

        def writer(offset: int) -> None:
            try:
                # Overlapping slices: most ids are offered by several threads.
                mine = [item(ids[(offset + k) % len(ids)]) for k in range(250)]
                for start in range(0, len(mine), 25):
                    added = add(s, mine[start : start + 25])
                    with stored_lock:
                        stored.extend(added)
            except BaseException as exc:
                errors.append(exc)

        def reader() -> None:
            try:
                for _ in range(40):
                    seqs = [i.seq for i in s.items.after()]
                    assert seqs == sorted(set(seqs))
                    assert s.items.count() <= len(ids)
                    s.items.is_known(item("id-5"))
                    s.items.get("fr-bis", "id-7")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n * 70,)) for n in range(6)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        offered = {ids[(n * 70 + k) % len(ids)] for n in range(6) for k in range(250)}
        assert sorted(i.id for i in stored) == sorted(offered)
        assert sorted(i.seq for i in stored) == list(range(1, len(offered) + 1))
        assert s.items.count() == len(offered)
    with TinyStore.open(tmp_path / "d") as s:
        assert sorted(i.id for i in s.items.after()) == sorted(offered)
