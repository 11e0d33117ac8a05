"""The TinyDB Federal Register table skips a damaged record (logged) rather than fail a listing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.store.ports import TrackedDocument
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def test_damaged_records_are_skipped(tmp_path: Path) -> None:
    store = TinyStore.open(tmp_path / "data")
    good = TrackedDocument("2026-00001", (("fr-bis", "a"),), NOW)
    with store.transaction() as tx:
        tx.fr_documents.put(good)
        tx.changes.state.setdefault("rec_fr_documents", {})["2026-00009"] = {"items": "nope"}
    store.close()
    store = TinyStore.open(tmp_path / "data")
    assert store.fr_documents.all() == [good]
    assert store.fr_documents.get("2026-00009") is None
    store.close()
