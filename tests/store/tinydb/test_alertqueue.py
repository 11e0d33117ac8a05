"""The TinyDB alert queue's own part: damaged records, the JSON of an alert, kill -9.

The semantics every backend shares are in tests/store/contract/test_alert_queue.py.
Damaged records are written as raw JSON into state.json's record tables,
through `StagedRecords` inside a transaction, as a bug or a hand edit would
leave them.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.models import Alert
from bot.store.records.alertqueue import SENT_RETENTION
from bot.store.records.repos import record_table
from bot.store.records.values import alert_from_json, alert_to_json
from bot.store.tinydb.repos import StagedRecords
from bot.store.tinydb.store import TinyStore
from tests.support import paths
from tests.support.alerts_worker import SUBSCRIPTIONS

WORKER = str(paths.TESTS / "support" / "alerts_worker.py")
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
TRIALS = int(os.environ.get("BRIEFBOT_CRASH_TRIALS", "6"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    with TinyStore.open(tmp_path / "data") as s:
        yield s


def put_raw(store: TinyStore, table: str, key: str, value: Any) -> None:
    """Write `value` as the JSON of record `key` of `table`, unchecked, and commit it."""
    with store.transaction() as tx:
        StagedRecords(store.engine.state, tx.changes.state).put(record_table(table), key, value)


def raw_keys(store: TinyStore, table: str) -> list[str]:
    """The keys of a record table as state.json holds them."""
    return list(store.engine.state.values(record_table(table)))


def alert(owner: str, seq: int, *ids: str, due: int = 0, made: int = 0) -> Alert:
    """An alert due `due` minutes (made `made` minutes) after NOW."""
    return Alert(owner, seq, ids, NOW + timedelta(minutes=made), NOW + timedelta(minutes=due))


def queue(store: TinyStore) -> list[tuple[str, int, tuple[str, ...], int]]:
    """The queue as (owner, seq, ids, minutes until due)."""
    return [
        (a.owner, a.item_seq, a.subscription_ids, int((a.due_at - NOW).total_seconds() // 60))
        for a in store.alerts.queued()
    ]


def enqueue(store: TinyStore, alerts: list[Alert]) -> int:
    with store.transaction() as tx:
        return tx.alerts.enqueue(alerts)


def test_sent_keys_are_kept_seven_days() -> None:
    # The retention the contract tests hold every backend to.
    assert timedelta(days=7) == SENT_RETENTION


# ------------------------------------------------------------------ damaged records


def test_unreadable_sent_records_are_pruned(store: TinyStore) -> None:
    fresh = NOW.isoformat()
    put_raw(store, "alerts_sent", "2026-11-24", {"sent": {"U1:1": "last week", "U1:2": fresh}})
    put_raw(store, "alerts_sent", "2026-11-23", {"junk": True})
    with store.transaction() as tx:
        assert tx.alerts.prune_sent(NOW) == 1
    assert store.alerts.sent_keys() == {"U1:2"}
    assert raw_keys(store, "alerts_sent") == ["2026-11-24"]


def test_damaged_sent_records_are_ignored_with_a_warning(
    store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    put_raw(store, "alerts_sent", "2026-11-23", {"junk": True})
    with store.transaction() as tx:
        tx.alerts.mark_delivered(["U1:1"], now=NOW)
    with caplog.at_level(logging.WARNING, logger="bot.store.records.alertqueue"):
        assert store.alerts.sent_keys() == {"U1:1"}
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring damaged sent-alerts record '2026-11-23'"
    ]


def test_damaged_queue_entries_are_skipped_then_replaced(
    store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    put_raw(store, "alerts", "U1", {"alerts": {"U1:1": {"owner": "U1", "item_seq": "one"}}})
    put_raw(store, "alerts", "U3", {"queue": []})
    enqueue(store, [alert("U2", 2, "s2")])
    with caplog.at_level(logging.WARNING, logger="bot.store.records.alertqueue"):
        assert queue(store) == [("U2", 2, ("s2",), 0)]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping damaged alert 'U1:1': alert record lacks 'subscription_ids'",
        "ignoring damaged alert queue record of 'U3'",
    ]
    assert enqueue(store, [alert("U1", 1, "s1"), alert("U3", 3, "s3")]) == 1
    assert queue(store) == [("U1", 1, ("s1",), 0), ("U2", 2, ("s2",), 0), ("U3", 3, ("s3",), 0)]


def test_damaged_queue_entries_do_not_stop_delivery_or_discarding(store: TinyStore) -> None:
    put_raw(
        store,
        "alerts",
        "U1",
        {"alerts": {"U1:1": "junk", "U1:2": alert_to_json(alert("U1", 2, "s1"))}},
    )
    with store.transaction() as tx:
        assert tx.alerts.discard_subscriptions(["s1"]) == 1
    assert store.alerts.pending_count() == 1  # the damaged entry, still there
    assert queue(store) == []
    with store.transaction() as tx:
        assert tx.alerts.mark_delivered(["U1:1"], now=NOW) == 1
    assert store.alerts.pending_count() == 0
    assert store.alerts.sent_keys() == {"U1:1"}


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
            "alert record's item_seq is 0, not an integer >= 1",
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
            "alert record's due_at is 'soon', not an ISO 8601 time",
            id="bad-due",
        ),
    ],
)
def test_damaged_alert_records_are_named(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        alert_from_json(record)
    assert str(caught.value) == message


def test_alert_record_round_trip() -> None:
    original = alert("C0TEAM0001", 42, "s1", "s2", due=90, made=3)
    assert alert_from_json(alert_to_json(original)) == original


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"seq": "twelve"}, id="text"),
        pytest.param({"seq": -3}, id="negative"),
        pytest.param({"seq": True}, id="bool"),
        pytest.param({"position": 12}, id="no-seq"),
        pytest.param([12], id="not-a-record"),
    ],
)
def test_damaged_cursor_reads_as_the_start(store: TinyStore, record: object) -> None:
    put_raw(store, "cursors", "match", record)
    assert store.alerts.match_cursor() == 0


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
    with TinyStore.open(data) as store:
        cursor = store.alerts.match_cursor()
        assert cursor >= reported_cursor, "a commit the worker reported was lost"
        assert cursor <= store.items.last_seq
        expected: dict[str, int] = {}
        for it in store.items.after():
            if it.seq <= cursor:
                for owner, count in expected_alerts(it.title).items():
                    expected[f"{owner}:{it.seq}"] = count
        queued = {a.key: len(a.subscription_ids) for a in store.alerts.queued()}
        sent = store.alerts.sent_keys()
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
    with TinyStore.open(data) as store:
        assert cursor == store.items.last_seq
    assert queued == 0
    assert sent > 0
    assert kills == TRIALS
