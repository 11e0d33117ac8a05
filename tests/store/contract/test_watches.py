"""The watchlist contract: put, list by owner, delete, survive a restart, skip damage."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store.ports import Watch
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _watch(watch_id: str, owner: str, name: str, minutes: int = 0) -> Watch:
    return Watch(
        id=watch_id,
        owner=owner,
        name=name,
        created_by="U1",
        created_at=NOW.replace(minute=minutes),
        aliases=("YMTC",) if "Yangtze" in name else (),
    )


def test_put_list_delete_and_reopen(stores: Stores) -> None:
    store = stores.open()
    with store.transaction() as tx:
        tx.watches.put(_watch("w2", "C123", "Huawei", 5))
        tx.watches.put(_watch("w1", "U1", "Yangtze Memory Technologies", 1))
        assert tx.watches.get("w2") is not None  # reads see the transaction's writes
    assert [w.id for w in store.watches.list()] == ["w1", "w2"]
    assert [w.name for w in store.watches.list(owner="C123")] == ["Huawei"]
    store = stores.reopen(store)
    again = store.watches.get("w1")
    assert again == _watch("w1", "U1", "Yangtze Memory Technologies", 1)
    assert again is not None and again.names == ("Yangtze Memory Technologies", "YMTC")
    with store.transaction() as tx:
        assert tx.watches.delete("w1")
        assert not tx.watches.delete("w9")
    assert store.watches.ids() == {"w2"}


def test_a_failed_transaction_keeps_no_watch(stores: Stores) -> None:
    store = stores.open()
    try:
        with store.transaction() as tx:
            tx.watches.put(_watch("w1", "U1", "Huawei"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.watches.list() == []
