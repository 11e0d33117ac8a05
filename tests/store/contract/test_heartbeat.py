"""The service's heartbeat (`Store.beat`, `Store.last_heartbeat`): every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.ports import Heartbeat, Store
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def beat(at: datetime, *, ok: bool = True) -> Heartbeat:
    return Heartbeat(
        at=at,
        pid=4242,
        slack_mode="http",
        slack_ok=ok,
        slack_checked_at=at,
        slack_detail="" if ok else "auth.test failed: SlackApiError",
    )


def test_no_heartbeat_before_the_first_beat(store: Store) -> None:
    assert store.last_heartbeat() is None


def test_the_last_beat_is_read_back_whole_and_replaces_the_one_before(store: Store) -> None:
    store.beat(beat(NOW))
    store.beat(beat(NOW + timedelta(seconds=30), ok=False))
    assert store.last_heartbeat() == beat(NOW + timedelta(seconds=30), ok=False)


def test_the_heartbeat_survives_a_restart(stores: Stores) -> None:
    store = stores.open()
    store.beat(beat(NOW))
    assert stores.reopen(store).last_heartbeat() == beat(NOW)


def test_a_beat_touches_no_committed_state(store: Store) -> None:
    before = store.stats()
    store.beat(beat(NOW))
    assert store.stats().items == before.items
    assert store.feed_states.all() == {}


def test_heartbeats_lists_the_one_process_beat(store: Store) -> None:
    assert store.heartbeats() == []
    store.beat(beat(NOW))
    store.beat(beat(NOW + timedelta(seconds=30)))
    assert store.heartbeats() == [beat(NOW + timedelta(seconds=30))]
