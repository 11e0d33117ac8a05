"""Subscription records (`bot.store.ports.Subscriptions`): listing order, owners, ids, restarts.

The rules (what users type, caps, duplicates, permissions, id shapes) are
tests/brief/test_subscriptions.py's; damaged records are the TinyDB backend's
own (tests/store/tinydb/test_subscriptions.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Subscription, replace
from bot.store.ports import Store
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Boom(Exception):
    pass


def sub(sub_id: str, owner: str = "U0ALICE001", *, at: datetime = NOW) -> Subscription:
    return Subscription(
        id=sub_id, owner=owner, created_by=owner, created_at=at, query=f"word{sub_id}"
    )


def put(store: Store, *subs: Subscription) -> None:
    with store.transaction() as tx:
        for one in subs:
            tx.subscriptions.put(one)


def test_listing_is_oldest_first(store: Store) -> None:
    later = sub("s0002", at=NOW + 5 * MINUTE)
    earlier = sub("s0003", at=NOW)
    put(store, later, earlier)
    assert store.subscriptions.list() == [earlier, later]


def test_listing_orders_equal_times_by_id(store: Store) -> None:
    subs = [sub(sub_id, at=NOW) for sub_id in ("szz01", "s0001", "sk002")]
    put(store, *subs, sub("s0000", at=NOW + MINUTE))
    assert [s.id for s in store.subscriptions.list()] == ["s0001", "sk002", "szz01", "s0000"]


def test_listing_by_owner(store: Store) -> None:
    mine = [sub("s0001"), sub("s0003", at=NOW + MINUTE)]
    theirs = sub("s0002", owner="C0TEAM0001")
    put(store, mine[1], theirs, mine[0])
    assert store.subscriptions.list("U0ALICE001") == mine
    assert store.subscriptions.list(owner="C0TEAM0001") == [theirs]
    assert store.subscriptions.list("U0NOBODY01") == []
    assert store.subscriptions.list() == [mine[0], theirs, mine[1]]


def test_subscriptions_survive_reopen_after_commit(stores: Stores) -> None:
    store = stores.open()
    a = Subscription(
        id="s7k2q",
        owner="U0ALICE001",
        created_by="U0ALICE001",
        created_at=NOW,
        topic="entity-list",
        mode="daily",
        daily_at="07:45",
        timezone="Europe/London",
    )
    b = Subscription(
        id="s9x0b",
        owner="C0TEAM0001",
        created_by="U0ALICE001",
        created_at=NOW + MINUTE,
        query="tag:us chips",
    )
    put(store, a, b)
    c = sub("sc0mm")
    with pytest.raises(Boom), store.transaction() as tx:
        tx.subscriptions.put(c)
        raise Boom  # never committed
    store = stores.reopen(store)
    assert store.subscriptions.list() == [a, b]
    assert store.subscriptions.list("C0TEAM0001") == [b]
    assert store.subscriptions.get(c.id) is None
    muted = replace(a, muted=True)
    put(store, muted)
    store = stores.reopen(store)
    assert store.subscriptions.get(a.id) == muted
    assert store.subscriptions.list() == [muted, b]


def test_ids_are_every_id_in_use(stores: Stores) -> None:
    store = stores.open()
    assert store.subscriptions.ids() == set()
    put(store, sub("s0001"), sub("s0002", owner="C0TEAM0001"), sub("s0003"))
    with store.transaction() as tx:
        assert tx.subscriptions.delete("s0002") is True
        tx.subscriptions.put(sub("s0004"))
        assert tx.subscriptions.ids() == {"s0001", "s0003", "s0004"}
    assert store.subscriptions.ids() == {"s0001", "s0003", "s0004"}
    assert stores.reopen(store).subscriptions.ids() == {"s0001", "s0003", "s0004"}


def test_get_put_and_delete(store: Store) -> None:
    first = sub("s0001")
    put(store, first)
    assert store.subscriptions.get("s0001") == first
    assert store.subscriptions.get("s0009") is None
    changed = replace(first, mode="hourly", muted=True)
    put(store, changed)
    assert store.subscriptions.get("s0001") == changed
    assert store.subscriptions.list() == [changed]
    with store.transaction() as tx:
        assert tx.subscriptions.delete("s0001") is True
        assert tx.subscriptions.get("s0001") is None
        assert tx.subscriptions.delete("s0001") is False
        assert tx.subscriptions.delete("s0009") is False
    assert store.subscriptions.get("s0001") is None
    assert store.subscriptions.list() == []
    assert store.subscriptions.ids() == set()
