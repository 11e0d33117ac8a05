"""The TinyDB subscription records' own part: their JSON, and damaged ones skipped.

The semantics every backend shares are in tests/store/contract/test_subscriptions.py.
Damaged records are written as raw JSON into state.json's `subscriptions`
table, through `StagedRecords` inside a transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.brief.subscriptions import create_subscription, get_subscription
from bot.config.model import TopicConfig
from bot.models import Subscription
from bot.store.records.repos import record_table
from bot.store.records.values import subscription_from_json, subscription_to_json
from bot.store.tinydb.repos import StagedRecords
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
TOPICS = {"entity-list": TopicConfig(id="entity-list", query='"entity list"')}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    with TinyStore.open(tmp_path / "data") as s:
        yield s


def put_raw(store: TinyStore, key: str, value: Any) -> None:
    """Write `value` as the JSON of subscription record `key`, unchecked, and commit it."""
    with store.transaction() as tx:
        staged = StagedRecords(store.engine.state, tx.changes.state)
        staged.put(record_table("subscriptions"), key, value)


def create(store: TinyStore, text: str, owner: str = "U0ALICE001") -> Subscription:
    with store.transaction() as tx:
        return create_subscription(
            tx, owner=owner, created_by=owner, topic_or_query=text, topics=TOPICS, now=NOW
        )


def test_damaged_record_is_skipped_and_logged(
    store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    good = create(store, "entity-list")
    put_raw(store, "sbad1", {"id": "sbad1", "owner": "U0ALICE001"})
    with caplog.at_level(logging.WARNING, logger="bot.store.records.repos"):
        assert store.subscriptions.list() == [good]
        assert store.subscriptions.list("U0ALICE001") == [good]
    messages = [r.getMessage() for r in caplog.records]
    assert (
        messages
        == ["skipping damaged subscriptions record 'sbad1': subscription record lacks 'created_by'"]
        * 2
    )


def test_damaged_record_reads_as_missing_but_keeps_its_id(
    store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    put_raw(store, "sbad1", {"id": "sbad1", "owner": "U0ALICE001"})
    put_raw(store, "sbad2", ["not", "a", "record"])
    with caplog.at_level(logging.WARNING, logger="bot.store.records.repos"):
        assert store.subscriptions.get("sbad1") is None
        assert get_subscription(store.subscriptions, "SBAD1") is None
        assert store.subscriptions.get("sbad2") is None
    assert len(caplog.records) == 3
    # A new id never takes a damaged record's.
    assert store.subscriptions.ids() == {"sbad1", "sbad2"}
    made = create(store, "entity-list")
    assert store.subscriptions.ids() == {"sbad1", "sbad2", made.id}


def test_damaged_records_do_not_count_toward_the_cap(store: TinyStore) -> None:
    put_raw(store, "sbad1", {"id": "sbad1", "owner": "U0ALICE001"})
    with store.transaction() as tx:
        made = create_subscription(
            tx,
            owner="U0ALICE001",
            created_by="U0ALICE001",
            topic_or_query="entity-list",
            topics=TOPICS,
            now=NOW,
            cap=1,
        )
    assert store.subscriptions.list() == [made]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param(
            {"owner": "U1", "created_by": "U1", "created_at": NOW.isoformat()},
            "subscription record lacks 'id'",
            id="no-id",
        ),
        pytest.param(
            {"id": "s1", "owner": "U1", "created_by": "U1", "created_at": "yesterday"},
            "subscription record has a bad created_at: 'yesterday'",
            id="bad-time",
        ),
        pytest.param(
            {
                "id": "s1",
                "owner": "",
                "created_by": "U1",
                "created_at": NOW.isoformat(),
                "topic": "x",
            },
            "subscription record's owner is '', not a non-empty text",
            id="empty-owner",
        ),
        pytest.param(
            {"id": "s1", "owner": "U1", "created_by": "U1", "created_at": NOW.isoformat()},
            "subscription record s1 names neither a topic nor a query",
            id="no-target",
        ),
    ],
)
def test_damaged_records_are_named(record: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        subscription_from_json(record)
    assert str(caught.value) == message


def test_record_round_trip_and_old_records_take_defaults() -> None:
    full = Subscription(
        id="s7k2q",
        owner="U1",
        created_by="U2",
        created_at=NOW,
        query="chips",
        mode="daily",
        daily_at="07:00",
        timezone="Asia/Tokyo",
        muted=True,
    )
    assert subscription_from_json(subscription_to_json(full)) == full
    old = {
        "id": "s7k2q",
        "owner": "U1",
        "created_by": "U1",
        "created_at": NOW.isoformat(),
        "topic": "ipef",
    }
    assert subscription_from_json(old) == Subscription(
        id="s7k2q", owner="U1", created_by="U1", created_at=NOW, topic="ipef"
    )


def test_old_records_in_state_json_still_load(store: TinyStore) -> None:
    put_raw(
        store,
        "s7k2q",
        {
            "id": "s7k2q",
            "owner": "U1",
            "created_by": "U1",
            "created_at": NOW.isoformat(),
            "topic": "ipef",
        },
    )
    assert store.subscriptions.list() == [
        Subscription(id="s7k2q", owner="U1", created_by="U1", created_at=NOW, topic="ipef")
    ]
