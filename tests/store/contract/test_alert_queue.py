"""The alert queue, the keys already sent and the match cursor (`bot.store.ports.AlertQueue`).

Every backend: idempotent enqueue (subscription ids united, the earlier times
kept), sent keys ignored for SENT_RETENTION, delivered keys remembered even
when they were never queued, subscriptions discarded from queued alerts, and a
match cursor that only holds item seqs. Damaged records and the kill -9 test
are the TinyDB backend's own (tests/store/tinydb/test_alertqueue.py).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Alert
from bot.store.ports import Store
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
#: How long every backend remembers a delivered key (a replayed match within it queues nothing).
SENT_RETENTION = timedelta(days=7)

QueueRow = tuple[str, int, tuple[str, ...], int]


class Boom(Exception):
    pass


def alert(owner: str, seq: int, *ids: str, due: int = 0, made: int = 0) -> Alert:
    """An alert due `due` minutes (made `made` minutes) after NOW."""
    return Alert(owner, seq, ids, NOW + timedelta(minutes=made), NOW + timedelta(minutes=due))


def queue(store: Store) -> list[QueueRow]:
    """The queue as (owner, seq, ids, minutes until due)."""
    return [
        (a.owner, a.item_seq, a.subscription_ids, int((a.due_at - NOW).total_seconds() // 60))
        for a in store.alerts.queued()
    ]


def enqueue(store: Store, alerts: list[Alert]) -> int:
    """Enqueue `alerts` in a transaction of their own; how many keys were new."""
    with store.transaction() as tx:
        return tx.alerts.enqueue(alerts)


def deliver(store: Store, keys: list[str], *, now: datetime = NOW) -> int:
    with store.transaction() as tx:
        return tx.alerts.mark_delivered(keys, now=now)


def prune_sent(store: Store, now: datetime) -> int:
    with store.transaction() as tx:
        return tx.alerts.prune_sent(now)


# ------------------------------------------------------------------ enqueue


@pytest.mark.parametrize(
    ("batches", "added", "expected"),
    [
        pytest.param([[alert("U1", 1, "s1")]], [1], [("U1", 1, ("s1",), 0)], id="one"),
        pytest.param(
            [
                [alert("U1", 1, "s1"), alert("U2", 1, "s2")],
                [alert("U1", 1, "s1"), alert("U2", 1, "s2")],
            ],
            [2, 0],
            [("U1", 1, ("s1",), 0), ("U2", 1, ("s2",), 0)],
            id="same-batch-twice",
        ),
        pytest.param(
            [[alert("U1", 1, "s2", due=60)], [alert("U1", 1, "s1", due=30)]],
            [1, 0],
            [("U1", 1, ("s1", "s2"), 30)],
            id="merge-unions-ids-earliest-due",
        ),
        pytest.param(
            [[alert("U1", 1, "s1", due=30)], [alert("U1", 1, "s1", "s3", due=90)]],
            [1, 0],
            [("U1", 1, ("s1", "s3"), 30)],
            id="merge-keeps-earlier-due",
        ),
        pytest.param(
            [[alert("U1", 1, "s1", due=60), alert("U1", 1, "s2", due=0)]],
            [1],
            [("U1", 1, ("s1", "s2"), 0)],
            id="merge-within-one-batch",
        ),
        pytest.param(
            [[alert("U1", 7, "s9", "s1", "s1")]],
            [1],
            [("U1", 7, ("s1", "s9"), 0)],
            id="ids-sorted-without-repeats",
        ),
    ],
)
def test_enqueue_is_idempotent_and_merges(
    store: Store, batches: list[list[Alert]], added: list[int], expected: list[QueueRow]
) -> None:
    assert [enqueue(store, batch) for batch in batches] == added
    assert queue(store) == expected
    assert store.alerts.pending_count() == len(expected)


def test_merge_keeps_the_first_creation_time(store: Store) -> None:
    enqueue(store, [alert("U1", 1, "s1", made=10)])
    enqueue(store, [alert("U1", 1, "s2", made=5)])
    assert [a.created_at for a in store.alerts.queued()] == [NOW + timedelta(minutes=5)]


def test_enqueue_in_one_transaction_sees_its_own_queue(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.alerts.enqueue([alert("U1", 1, "s2", due=60)]) == 1
        assert tx.alerts.enqueue([alert("U1", 1, "s1", due=30), alert("U2", 2, "s1")]) == 1
        assert [(a.key, a.subscription_ids) for a in tx.alerts.queued()] == [
            ("U1:1", ("s1", "s2")),
            ("U2:2", ("s1",)),
        ]
        assert tx.alerts.pending_count() == 2
        assert tx.alerts.mark_delivered(["U2:2"], now=NOW) == 1
        assert tx.alerts.sent_keys() == {"U2:2"}
        assert tx.alerts.enqueue([alert("U2", 2, "s1")]) == 0
        # Nothing of it is committed yet.
        assert store.alerts.queued() == []
        assert store.alerts.sent_keys() == set()
    assert queue(store) == [("U1", 1, ("s1", "s2"), 30)]
    assert store.alerts.sent_keys() == {"U2:2"}


# ------------------------------------------------------------------ due and delivered


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        pytest.param(-1, {}, id="before-anything-is-due"),
        pytest.param(0, {"U1": [2, 5], "U2": [3]}, id="due-now-is-included"),
        pytest.param(59, {"U1": [2, 5], "U2": [3]}, id="a-minute-before-the-hour"),
        pytest.param(60, {"U1": [1, 2, 5], "U2": [3, 4]}, id="the-hour"),
        pytest.param(24 * 60, {"U1": [1, 2, 5, 6], "U2": [3, 4]}, id="next-day"),
    ],
)
def test_due_alerts_with_a_fake_clock(
    store: Store, minutes: int, expected: dict[str, list[int]]
) -> None:
    enqueue(
        store,
        [
            alert("U1", 5, "s1"),
            alert("U2", 4, "s2", due=60),
            alert("U1", 6, "s3", due=24 * 60),
            alert("U1", 1, "s3", due=60),
            alert("U2", 3, "s2"),
            alert("U1", 2, "s1"),
        ],
    )
    due = store.alerts.due(NOW + timedelta(minutes=minutes))
    assert {owner: [a.item_seq for a in alerts] for owner, alerts in due.items()} == expected
    assert list(due) == sorted(due)
    # One owner's alerts only, the same ones.
    for owner in ("U1", "U2", "U9"):
        mine = store.alerts.due(NOW + timedelta(minutes=minutes), owner=owner)
        assert {o: [a.item_seq for a in alerts] for o, alerts in mine.items()} == (
            {owner: expected[owner]} if owner in expected else {}
        )


def test_delivered_alerts_leave_and_are_not_queued_again(store: Store) -> None:
    first = [alert("U1", 1, "s1"), alert("U1", 2, "s1"), alert("U2", 2, "s2")]
    enqueue(store, first)
    assert deliver(store, ["U1:1", "U2:2", "U2:2", "U9:9"]) == 2
    assert queue(store) == [("U1", 2, ("s1",), 0)]
    # A replayed match (say after a crash) brings the same alerts again, and one new one.
    assert enqueue(store, [*first, alert("U2", 3, "s2"), alert("U9", 9, "s9")]) == 1
    assert queue(store) == [("U1", 2, ("s1",), 0), ("U2", 3, ("s2",), 0)]
    assert store.alerts.pending_count() == 2


def test_keys_delivered_without_being_queued_are_remembered(store: Store) -> None:
    # A delivery the queue never held (it was queued by a match rolled back since, or
    # the queue was restored from a backup): nothing leaves, the key is sent all the same.
    assert deliver(store, ["U1:1", "C1:2"]) == 0
    assert deliver(store, []) == 0
    assert store.alerts.sent_keys() == {"U1:1", "C1:2"}
    assert store.alerts.pending_count() == 0
    assert enqueue(store, [alert("U1", 1, "s1"), alert("C1", 2, "s2"), alert("C1", 3, "s2")]) == 1
    assert queue(store) == [("C1", 3, ("s2",), 0)]


def test_sent_keys_are_forgotten_after_seven_days(store: Store) -> None:
    enqueue(store, [alert("U1", 1, "s1")])
    deliver(store, ["U1:1"])
    assert prune_sent(store, NOW + SENT_RETENTION - timedelta(seconds=1)) == 0
    assert enqueue(store, [alert("U1", 1, "s1")]) == 0
    assert prune_sent(store, NOW + SENT_RETENTION + timedelta(seconds=1)) == 1
    assert store.alerts.sent_keys() == set()
    assert enqueue(store, [alert("U1", 1, "s1")]) == 1


def test_prune_sent_keeps_the_keys_still_within_retention(store: Store) -> None:
    deliver(store, ["U1:1", "U1:2"], now=NOW)
    deliver(store, ["U1:3"], now=NOW + timedelta(days=2))
    assert prune_sent(store, NOW + SENT_RETENTION + timedelta(days=1)) == 2
    assert store.alerts.sent_keys() == {"U1:3"}
    assert enqueue(store, [alert("U1", 1, "s1"), alert("U1", 3, "s1")]) == 1
    assert queue(store) == [("U1", 1, ("s1",), 0)]


def test_a_watch_not_yet_told_is_queued_for_an_item_already_sent(stores: Stores) -> None:
    """The item went out for a subscription (and watch w1); a watch hit found later is told
    once, alone; a replay of any of them, after a reopen too, queues nothing."""
    store = stores.open()
    sent = alert("U1", 1, "s1", "wa1")
    enqueue(store, [sent])
    deliver(store, list(sent.sent_keys))
    assert store.alerts.sent_keys() == {"U1:1", "U1:1/wa1"}
    assert enqueue(store, [alert("U1", 1, "s1"), alert("U1", 1, "wa1")]) == 0
    assert enqueue(store, [alert("U1", 1, "s1", "wa1", "wb2", due=5)]) == 1
    assert queue(store) == [("U1", 1, ("wb2",), 5)]
    [later] = store.alerts.queued()
    deliver(store, list(later.sent_keys))
    store = stores.reopen(store)
    assert enqueue(store, [alert("U1", 1, "s1", "wa1", "wb2")]) == 0
    assert queue(store) == []


def test_discarding_subscriptions(store: Store) -> None:
    enqueue(store, [alert("U1", 1, "s1"), alert("U1", 2, "s1", "s2"), alert("U2", 2, "s3")])
    with store.transaction() as tx:
        assert tx.alerts.discard_subscriptions(["s1"]) == 1
    assert queue(store) == [("U1", 2, ("s2",), 0), ("U2", 2, ("s3",), 0)]
    assert store.alerts.pending_count() == 2


def test_discarding_every_subscription_of_an_owner_empties_the_queue(store: Store) -> None:
    enqueue(store, [alert("U1", 1, "s1"), alert("U1", 2, "s1", "s2"), alert("U2", 2, "s3")])
    with store.transaction() as tx:
        assert tx.alerts.discard_subscriptions(["s1", "s2", "s3", "s9"]) == 3
        assert tx.alerts.discard_subscriptions([]) == 0
    assert queue(store) == []
    assert store.alerts.pending_count() == 0
    assert store.alerts.due(NOW + timedelta(days=1)) == {}


# ------------------------------------------------------------------ persistence


def test_queue_sent_and_cursor_survive_reopen(stores: Stores) -> None:
    store = stores.open()
    assert store.alerts.match_cursor() == 0
    with store.transaction() as tx:
        tx.alerts.enqueue([alert("U1", 1, "s1", due=60), alert("U1", 2, "s1")])
        tx.alerts.mark_delivered(["U1:2"], now=NOW)
        tx.alerts.set_match_cursor(2)
    # As if killed before the commit.
    with pytest.raises(Boom), store.transaction() as tx:
        tx.alerts.enqueue([alert("U1", 3, "s1")])
        tx.alerts.set_match_cursor(3)
        raise Boom
    store = stores.reopen(store)
    assert store.alerts.match_cursor() == 2
    assert queue(store) == [("U1", 1, ("s1",), 60)]
    assert store.alerts.sent_keys() == {"U1:2"}
    assert enqueue(store, [alert("U1", 2, "s1")]) == 0


def test_cursor_moves_either_way(stores: Stores) -> None:
    store = stores.open()
    for seq in (5, 9, 3, 0):
        with store.transaction() as tx:
            tx.alerts.set_match_cursor(seq)
            assert tx.alerts.match_cursor() == seq
        assert store.alerts.match_cursor() == seq
    with store.transaction() as tx:
        tx.alerts.set_match_cursor(12)
    assert stores.reopen(store).alerts.match_cursor() == 12


@pytest.mark.parametrize("bad", [-1, True, False, 2.5, "7", None])
def test_cursor_refuses_what_is_not_a_seq(store: Store, bad: object) -> None:
    with store.transaction() as tx:
        tx.alerts.set_match_cursor(4)
    refused = pytest.raises(ValueError, match="the match cursor must be an item seq")
    with refused, store.transaction() as tx:
        tx.alerts.set_match_cursor(bad)  # type: ignore[arg-type]
    assert store.alerts.match_cursor() == 4


# ------------------------------------------------------------------ property


keys_ = st.tuples(st.sampled_from(["U1", "U2", "C1"]), st.integers(1, 4))
alerts_ = st.builds(
    lambda key, ids, due, made: alert(key[0], key[1], *ids, due=due, made=made),
    keys_,
    st.lists(st.sampled_from(["s1", "s2", "s3", "s4"]), min_size=1, max_size=3),
    st.integers(0, 180),
    st.integers(0, 30),
)


@settings(
    max_examples=60,
    deadline=None,
    # A fresh store per example is opened below; `stores` only names the backend.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(st.lists(alerts_, min_size=1, max_size=6), min_size=1, max_size=4),
    data=st.data(),
)
def test_enqueue_is_idempotent_under_any_interleaving(
    stores: Stores, batches: list[list[Alert]], data: st.DataObject
) -> None:
    # Every batch at least once, some again, in any order.
    extra = data.draw(st.lists(st.integers(0, len(batches) - 1), max_size=6), label="repeats")
    order = data.draw(st.permutations([*range(len(batches)), *extra]), label="order")
    # What the queue must hold, from the definition: per key, every id, the earliest times.
    expected: dict[str, tuple[tuple[str, ...], datetime, datetime]] = {}
    for batch in batches:
        for a in batch:
            ids, made, due = expected.get(a.key, ((), a.created_at, a.due_at))
            expected[a.key] = (
                tuple(sorted({*ids, *a.subscription_ids})),
                min(made, a.created_at),
                min(due, a.due_at),
            )
    with tempfile.TemporaryDirectory() as tmp:
        store = stores.backend.open(Path(tmp))
        try:
            added = sum(enqueue(store, batches[i]) for i in order)
            got = {
                a.key: (a.subscription_ids, a.created_at, a.due_at) for a in store.alerts.queued()
            }
            assert got == expected
            assert added == len(expected)
        finally:
            store.close()
        store = stores.backend.open(Path(tmp))
        try:
            assert store.alerts.pending_count() == len(expected)
        finally:
            store.close()
