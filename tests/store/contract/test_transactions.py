"""The unit of work: own writes visible inside, all or nothing, one writer at a time, seq order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from bot.models import FeedState, Item, Subscription
from bot.store.ports import Store
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


class Boom(Exception):
    pass


def sub(sub_id: str, owner: str = "U0ALICE001") -> Subscription:
    return Subscription(id=sub_id, owner=owner, created_by=owner, created_at=NOW, query="chips")


def test_a_transaction_sees_its_own_writes_and_others_see_them_after_commit(store: Store) -> None:
    with store.transaction() as tx:
        [added] = tx.items.add([Item(id="a", feed_id="f", title="A")], now=NOW)
        tx.feed_states.put(FeedState(feed_id="f", etag='"1"'))
        tx.subscriptions.put(sub("s1111"))
        assert tx.items.get("f", "a") == added
        assert [i.id for i in tx.items.after()] == ["a"]
        assert tx.items.count() == 1 and tx.items.last_seq == added.seq
        assert tx.feed_states.get("f") == FeedState(feed_id="f", etag='"1"')
        assert [s.id for s in tx.subscriptions.list()] == ["s1111"]
        # Committed state does not show them yet.
        assert store.items.count() == 0
        assert store.feed_states.get("f") is None
        assert store.subscriptions.list() == []
    assert store.items.get("f", "a") == added
    assert store.feed_states.get("f") == FeedState(feed_id="f", etag='"1"')
    assert [s.id for s in store.subscriptions.list()] == ["s1111"]


def test_an_exception_rolls_everything_back(stores: Stores) -> None:
    store = stores.open()
    with store.transaction() as tx:
        tx.subscriptions.put(sub("skeep"))
    with pytest.raises(Boom), store.transaction() as tx:
        tx.items.add([Item(id="a", feed_id="f", title="A")], now=NOW)
        tx.feed_states.put(FeedState(feed_id="f"))
        tx.subscriptions.delete("skeep")
        tx.alerts.set_match_cursor(7)
        raise Boom
    for view in (store, None):
        # The store as it is, then reopened (a restart).
        view = view or stores.reopen(store)
        assert view.items.count() == 0
        assert not view.items.is_known(Item(id="a", feed_id="f", title="A"))
        assert view.feed_states.all() == {}
        assert [s.id for s in view.subscriptions.list()] == ["skeep"]
        assert view.alerts.match_cursor() == 0


def test_seqs_of_a_rolled_back_transaction_are_not_given_to_other_items(store: Store) -> None:
    with pytest.raises(Boom), store.transaction() as tx:
        [gone] = tx.items.add([Item(id="gone", feed_id="f", title="G")], now=NOW)
        raise Boom
    with store.transaction() as tx:
        [kept] = tx.items.add([Item(id="kept", feed_id="f", title="K")], now=NOW)
    assert kept.seq > gone.seq
    assert store.items.by_seq([gone.seq]) == []


def test_writers_take_turns_and_seqs_become_visible_in_commit_order(store: Store) -> None:
    """A writer holding a transaction open keeps the next one waiting; no seq is skipped."""
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with store.transaction() as tx:
            tx.items.add([Item(id="first", feed_id="f", title="1")], now=NOW)
            inside.set()
            assert release.wait(10)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    second_done = threading.Event()

    def second() -> None:
        with store.transaction() as tx:
            tx.items.add([Item(id="second", feed_id="f", title="2")], now=NOW)
            order.append("second")
        second_done.set()

    other = threading.Thread(target=second)
    other.start()
    assert not second_done.wait(0.2)  # it waits for the first writer
    release.set()
    thread.join(10)
    other.join(10)
    assert order == ["first", "second"]
    assert [(i.id, i.seq) for i in store.items.after()] == [("first", 1), ("second", 2)]


def test_a_transaction_inside_another_on_the_same_thread_is_refused(store: Store) -> None:
    with (
        store.transaction(),
        pytest.raises(RuntimeError, match="inside a transaction"),
        store.transaction(),
    ):
        pass


def test_readers_never_see_a_transaction_half_done(store: Store) -> None:
    """While a writer commits batch after batch, a reader sees whole batches only."""
    stop = threading.Event()
    seen_sizes: set[int] = set()

    def read() -> None:
        while not stop.is_set():
            count = store.items.count()
            seen_sizes.add(count % 10)
            assert len(list(store.items.after())) % 10 == 0

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for batch in range(30):
            with store.transaction() as tx:
                tx.items.add(
                    [Item(id=f"{batch}-{n}", feed_id="f", title="t") for n in range(10)], now=NOW
                )
    finally:
        stop.set()
        reader.join(10)
    assert seen_sizes == {0}
    assert store.items.count() == 300
