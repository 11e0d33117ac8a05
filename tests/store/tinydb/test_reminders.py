"""The TinyDB reminder table skips a damaged record (logged) in listings, yet still counts its
key, so a reminder whose record cannot be read is never posted a second time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.store.ports import Reminder
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def test_a_damaged_record_is_skipped_but_its_key_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TinyStore.open(tmp_path / "data")
    good = Reminder(
        "U1", "2026-00001", "comments", date(2026, 12, 1), 7, ("s1",), "sent", "k", "D1", 1.0, NOW
    )
    bad_key = "U1|2026-00002|effective|2026-12-02|1"
    with store.transaction() as tx:
        tx.reminders.put(good)
        tx.changes.state.setdefault("rec_reminders", {})[bad_key] = {"status": "sent"}
    store.close()
    store = TinyStore.open(tmp_path / "data")
    assert store.reminders.all() == [good]
    assert store.reminders.get(bad_key) is None
    assert store.reminders.keys() == {good.key, bad_key}
    assert "skipping damaged reminders record" in caplog.text
    store.close()
