"""The dedup index in sorted arrays: keys added after open, folded, removed by a prune."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import add, item
from tests.support.store_worker import make_batch


def test_keys_stay_known_across_a_fold_a_prune_and_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "d"
    may = make_batch("may", 300)
    with TinyStore.open(data, retention_days=180, seen_retention_days=360) as s:
        add(s, may, now=datetime(2026, 5, 2, tzinfo=UTC))
    with TinyStore.open(data, retention_days=180, seen_retention_days=360) as s:
        # Read at open into the arrays; 2,500 new items (5,000 keys) are
        # more than the small dict holds before a fold into new arrays.
        november = make_batch("nov", 2500)
        stored = add(s, november)
        assert len(stored) == 2500
        assert add(s, [*may[:10], *november[-10:], item("fresh")])[0].id == "fresh"
        assert all(s.items.is_known(i) for i in [*may, *november])
        assert not s.items.is_known(item("never-stored"))
        last = s.items.get("fr-bis", "nov-2499")
        assert last is not None and last.seq == 2800
        # Pruned: May's items leave, their keys stay as tombstones.
        assert s.prune(datetime(2026, 11, 20, tzinfo=UTC)) == 300
        assert s.items.get("fr-bis", "may-0") is None
        assert s.items.is_known(may[0])
        assert add(s, may[:5]) == []
    with TinyStore.open(data, retention_days=180, seen_retention_days=360) as s:
        assert s.items.count() == 2501
        assert all(s.items.is_known(i) for i in [*may, *november])
        got = s.items.get("fr-bis", "nov-17")
        assert got is not None and got.seq == 318
        # The tombstones expire: the keys go, the items can come back.
        assert s.prune(datetime(2027, 6, 1, tzinfo=UTC)) == 2501
        assert not s.items.is_known(may[0])
        (back,) = add(s, [may[0]], now=datetime(2027, 6, 1, tzinfo=UTC))
        assert back.seq == 2802
        assert s.items.is_known(may[0])
