"""The alert queue and match cursor in a real store, with kill -9 between match and delivery."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.brief.alerts import (
    SENT_RETENTION,
    alert_to_record,
    discard_subscription_alerts,
    due_alerts,
    enqueue_alerts,
    get_match_cursor,
    mark_delivered,
    pending_count,
    prune_sent,
    queued_alerts,
    record_to_alert,
    sent_keys,
    set_match_cursor,
)
from bot.models import Alert
from bot.store.tinydb.engine import Store
from tests.support import paths
from tests.support.alerts_worker import SUBSCRIPTIONS

WORKER = str(paths.TESTS / "support" / "alerts_worker.py")
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
TRIALS = int(os.environ.get("BRIEFBOT_CRASH_TRIALS", "6"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as s:
        yield s


def alert(owner: str, seq: int, *ids: str, due: int = 0, made: int = 0) -> Alert:
    """An alert due `due` minutes (made `made` minutes) after NOW."""
    return Alert(owner, seq, ids, NOW + timedelta(minutes=made), NOW + timedelta(minutes=due))


def queue(store: Store) -> list[tuple[str, int, tuple[str, ...], int]]:
    """The queue as (owner, seq, ids, minutes until due)."""
    return [
        (a.owner, a.item_seq, a.subscription_ids, int((a.due_at - NOW).total_seconds() // 60))
        for a in queued_alerts(store)
    ]


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
    store: Store, batches: list[list[Alert]], added: list[int], expected: list[object]
) -> None:
    assert [enqueue_alerts(store, batch) for batch in batches] == added
    assert queue(store) == expected
    assert pending_count(store) == len(expected)


def test_merge_keeps_the_first_creation_time(store: Store) -> None:
    enqueue_alerts(store, [alert("U1", 1, "s1", made=10)])
    enqueue_alerts(store, [alert("U1", 1, "s2", made=5)])
    assert [a.created_at for a in queued_alerts(store)] == [NOW + timedelta(minutes=5)]


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
    enqueue_alerts(
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
    due = due_alerts(store, NOW + timedelta(minutes=minutes))
    assert {owner: [a.item_seq for a in alerts] for owner, alerts in due.items()} == expected
    assert list(due) == sorted(due)


def test_delivered_alerts_leave_and_are_not_queued_again(store: Store) -> None:
    first = [alert("U1", 1, "s1"), alert("U1", 2, "s1"), alert("U2", 2, "s2")]
    enqueue_alerts(store, first)
    assert mark_delivered(store, ["U1:1", "U2:2", "U2:2", "U9:9"], now=NOW) == 2
    assert queue(store) == [("U1", 2, ("s1",), 0)]
    # A replayed match (say after a crash) brings the same alerts again, and one new one.
    assert enqueue_alerts(store, [*first, alert("U2", 3, "s2"), alert("U9", 9, "s9")]) == 1
    assert queue(store) == [("U1", 2, ("s1",), 0), ("U2", 3, ("s2",), 0)]
    assert pending_count(store) == 2


def test_sent_keys_are_forgotten_after_seven_days(store: Store) -> None:
    enqueue_alerts(store, [alert("U1", 1, "s1")])
    mark_delivered(store, ["U1:1"], now=NOW)
    assert prune_sent(store, NOW + SENT_RETENTION - timedelta(seconds=1)) == 0
    assert enqueue_alerts(store, [alert("U1", 1, "s1")]) == 0
    assert prune_sent(store, NOW + SENT_RETENTION + timedelta(seconds=1)) == 1
    assert enqueue_alerts(store, [alert("U1", 1, "s1")]) == 1


def test_unreadable_sent_records_are_pruned(store: Store) -> None:
    fresh = NOW.isoformat()
    store.put_record("alerts_sent", "2026-11-24", {"sent": {"U1:1": "last week", "U1:2": fresh}})
    store.put_record("alerts_sent", "2026-11-23", {"junk": True})
    assert prune_sent(store, NOW) == 1
    assert sent_keys(store) == {"U1:2"}
    assert list(store.records("alerts_sent")) == ["2026-11-24"]


def test_discarding_subscriptions(store: Store) -> None:
    enqueue_alerts(store, [alert("U1", 1, "s1"), alert("U1", 2, "s1", "s2"), alert("U2", 2, "s3")])
    assert discard_subscription_alerts(store, ["s1"]) == 1
    assert queue(store) == [("U1", 2, ("s2",), 0), ("U2", 2, ("s3",), 0)]


def test_damaged_queue_entries_are_skipped_then_replaced(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.put_record("alerts", "U1", {"alerts": {"U1:1": {"owner": "U1", "item_seq": "one"}}})
    store.put_record("alerts", "U3", {"queue": []})
    enqueue_alerts(store, [alert("U2", 2, "s2")])
    with caplog.at_level(logging.WARNING, logger="bot.brief.alerts"):
        assert queue(store) == [("U2", 2, ("s2",), 0)]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping damaged alert 'U1:1': alert record lacks 'subscription_ids'",
        "ignoring damaged alert queue record of 'U3'",
    ]
    assert enqueue_alerts(store, [alert("U1", 1, "s1"), alert("U3", 3, "s3")]) == 1
    assert queue(store) == [("U1", 1, ("s1",), 0), ("U2", 2, ("s2",), 0), ("U3", 3, ("s3",), 0)]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param({"owner": "U1"}, "alert record lacks 'item_seq'", id="missing"),
        pytest.param(
            {
                "owner": "U1",
                "item_seq": 0,
                "subscription_ids": [],
                "created_at": NOW.isoformat(),
                "due_at": NOW.isoformat(),
            },
            "alert record has a bad item_seq: 0",
            id="seq-zero",
        ),
        pytest.param(
            {
                "owner": "U1",
                "item_seq": 1,
                "subscription_ids": ["s1"],
                "created_at": NOW.isoformat(),
                "due_at": "soon",
            },
            "'soon' is not an ISO 8601 time",
            id="bad-due",
        ),
    ],
)
def test_damaged_alert_records_are_named(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        record_to_alert(record)
    assert str(caught.value) == message


def test_alert_record_round_trip() -> None:
    original = alert("C0TEAM0001", 42, "s1", "s2", due=90, made=3)
    assert record_to_alert(alert_to_record(original)) == original


# ------------------------------------------------------------------ persistence


def test_queue_sent_and_cursor_survive_reopen(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        assert get_match_cursor(store) == 0
        enqueue_alerts(store, [alert("U1", 1, "s1", due=60), alert("U1", 2, "s1")])
        mark_delivered(store, ["U1:2"], now=NOW)
        set_match_cursor(store, 2)
        store.commit()
        enqueue_alerts(store, [alert("U1", 3, "s1")])
        set_match_cursor(store, 3)
        store.close(commit=False)  # as if killed before the commit
    with Store.open(data) as store:
        assert get_match_cursor(store) == 2
        assert queue(store) == [("U1", 1, ("s1",), 60)]
        assert enqueue_alerts(store, [alert("U1", 2, "s1")]) == 0


@pytest.mark.parametrize("bad", [-1, True, 2.5, "7"])
def test_cursor_refuses_what_is_not_a_seq(store: Store, bad: object) -> None:
    with pytest.raises(ValueError, match="the match cursor must be an item seq"):
        set_match_cursor(store, bad)  # type: ignore[arg-type]


def test_damaged_cursor_reads_as_the_start(store: Store) -> None:
    store.put_record("cursors", "match", {"seq": "twelve"})
    assert get_match_cursor(store) == 0


# ------------------------------------------------------------------ property


keys_ = st.tuples(st.sampled_from(["U1", "U2", "C1"]), st.integers(1, 4))
alerts_ = st.builds(
    lambda key, ids, due, made: alert(key[0], key[1], *ids, due=due, made=made),
    keys_,
    st.lists(st.sampled_from(["s1", "s2", "s3", "s4"]), min_size=1, max_size=3),
    st.integers(0, 180),
    st.integers(0, 30),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(alerts_, min_size=1, max_size=6), min_size=1, max_size=4),
    data=st.data(),
)
def test_enqueue_is_idempotent_under_any_interleaving(
    batches: list[list[Alert]], data: st.DataObject
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
        with Store.open(Path(tmp) / "data") as store:
            added = sum(enqueue_alerts(store, batches[i]) for i in order)
            got = {
                a.key: (a.subscription_ids, a.created_at, a.due_at) for a in queued_alerts(store)
            }
            assert got == expected
            assert added == len(expected)
        with Store.open(Path(tmp) / "data") as store:
            assert pending_count(store) == len(expected)


# ------------------------------------------------------------------ crash


def expected_alerts(title: str) -> dict[str, int]:
    """Owner -> how many of their subscriptions an item with this title matches."""
    words = set(title.lower().split())
    owners: dict[str, int] = {}
    for owner, text, _mode in SUBSCRIPTIONS:
        if text == "entity-list":
            hit = "entity list" in title.lower()
        else:
            hit = bool(words & set(text.lower().split()) - {"or"})
        if hit:
            owners[owner] = owners.get(owner, 0) + 1
    return owners


def check_queue(data: Path, reported_cursor: int) -> tuple[int, int, int]:
    """Check the store after a kill; return (cursor, queued, delivered)."""
    with Store.open(data) as store:
        cursor = get_match_cursor(store)
        assert cursor >= reported_cursor, "a commit the worker reported was lost"
        assert cursor <= store.last_seq
        expected: dict[str, int] = {}
        for it in store.iter_items():
            if it.seq <= cursor:
                for owner, count in expected_alerts(it.title).items():
                    expected[f"{owner}:{it.seq}"] = count
        queued = {a.key: len(a.subscription_ids) for a in queued_alerts(store)}
        sent = sent_keys(store)
        assert not set(queued) & sent, "an alert is both queued and delivered"
        assert set(queued) | sent == set(expected), (
            f"lost: {sorted(set(expected) - set(queued) - sent)[:5]}, "
            f"extra: {sorted((set(queued) | sent) - set(expected))[:5]}"
        )
        for key, count in queued.items():
            assert count == expected[key], f"{key} names {count} subscriptions, not {expected[key]}"
        return cursor, len(queued), len(sent)


@pytest.mark.slow
def test_kill_between_match_and_delivery_loses_nothing_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    rng = random.Random(int(os.environ.get("BRIEFBOT_CRASH_SEED", "11")))
    reported = 0
    kills = commits = 0
    for trial in range(TRIALS):
        proc = subprocess.Popen(
            [sys.executable, WORKER, "run", str(data), str(trial)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.6, 2.0))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        kills += 1
        for line in out.splitlines():
            if line.startswith("committed "):
                reported = max(reported, int(line.split()[2]))
                commits += 1
        cursor, _queued, _sent = check_queue(data, reported)
        reported = cursor
    assert commits > TRIALS, "the worker must get some rounds done between kills"

    done = subprocess.run(
        [sys.executable, WORKER, "drain", str(data)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    cursor, queued, sent = check_queue(data, reported)
    with Store.open(data) as store:
        assert cursor == store.last_seq
    assert queued == 0
    assert sent > 0
    assert kills == TRIALS
