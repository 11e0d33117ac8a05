"""The reminder ledger: as written, after a restart, rolled back with its transaction, one
record per owner, document, kind, date and lead time; pruned when past, in flight kept."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.models import replace
from bot.store.ports import Reminder, reminder_key
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


class Boom(Exception):
    pass


def _reminder(days: int = 7, on: date = date(2026, 12, 10), owner: str = "U1") -> Reminder:
    return Reminder(
        owner=owner,
        document_number="2026-01234",
        kind="comments",
        on=on,
        days_before=days,
        subscription_ids=("s1", "s2"),
        status="sending",
        delivery_key="reminders:abc",
        channel="D1",
        since_ts=NOW.timestamp() - 5,
        created_at=NOW,
    )


def test_reminder_ledger_round_trips_by_key_and_survives_a_restart(stores: Stores) -> None:
    store = stores.open()
    week, day = _reminder(7), _reminder(1)
    moved = _reminder(7, on=date(2026, 12, 17))
    other = _reminder(7, owner="C0CHANNEL")
    assert len({week.key, day.key, moved.key, other.key}) == 4, "a moved date is a new key"
    assert week.key == reminder_key("U1", "2026-01234", "comments", date(2026, 12, 10), 7)
    with store.transaction() as tx:
        for reminder in (week, day, moved, other):
            tx.reminders.put(reminder)
    sent = replace(week, status="sent", sent_at=NOW)
    with store.transaction() as tx:
        tx.reminders.put(sent)
    store = stores.reopen(store)
    assert store.reminders.get(week.key) == sent
    assert store.reminders.get(day.key) == day
    assert store.reminders.keys() == {week.key, day.key, moved.key, other.key}
    assert [r.key for r in store.reminders.all()] == sorted(
        [week.key, day.key, moved.key, other.key]
    )


def test_a_failed_transaction_leaves_the_ledger_as_it_was(stores: Stores) -> None:
    store = stores.open()
    with pytest.raises(Boom), store.transaction() as tx:
        tx.reminders.put(_reminder())
        assert tx.reminders.keys() == {_reminder().key}, "a transaction sees its own writes"
        raise Boom
    assert store.reminders.keys() == set()
    assert store.reminders.get(_reminder().key) is None


def test_delete_and_prune_forget_what_is_done_and_keep_what_is_in_flight(stores: Stores) -> None:
    store = stores.open()
    sent = replace(_reminder(7), status="sent", sent_at=NOW)
    failed = replace(_reminder(1), status="failed")
    flying = _reminder(3)
    later = replace(_reminder(7, on=date(2026, 12, 20)), status="sent", sent_at=NOW)
    with store.transaction() as tx:
        for reminder in (sent, failed, flying, later):
            tx.reminders.put(reminder)
    with store.transaction() as tx:
        assert tx.reminders.prune(date(2026, 12, 11)) == 2  # the 10th's sent and failed ones
        tx.reminders.delete("never|there")
    assert store.reminders.keys() == {flying.key, later.key}
    with store.transaction() as tx:
        tx.reminders.delete(flying.key)
    assert store.reminders.keys() == {later.key}
