"""Subscriptions in a real store: what users type, what they are told, who may change what.

How the records are kept (listing order, ids in use, restarts, damaged records)
is the store's business: tests/store/contract/test_subscriptions.py and
tests/store/tinydb/test_subscriptions.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.brief.subscriptions import (
    SubscriptionError,
    SubscriptionNotFoundError,
    SubscriptionPermissionError,
    create_subscription,
    delete_subscription,
    get_subscription,
    new_subscription_id,
    normalize_subscription_id,
    set_muted,
)
from bot.config.model import TopicConfig
from bot.models import Alert, Subscription
from bot.store.ports import Transaction
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
TOPICS = {
    "entity-list": TopicConfig(id="entity-list", query='"entity list"'),
    "semiconductors": TopicConfig(id="semiconductors", query="semiconductor* OR chip OR chips"),
}
ID_RE = re.compile(r"^s[0-9a-hjkmnp-tv-z]{4}$")  # Crockford base32: no i, l, o, u


class Boom(Exception):
    pass


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    with TinyStore.open(tmp_path / "data") as s:
        yield s


def create_in(tx: Transaction, text: str, owner: str = "U0ALICE001", **kw: Any) -> Subscription:
    kw.setdefault("created_by", owner)
    kw.setdefault("now", NOW)
    return create_subscription(tx, owner=owner, topic_or_query=text, topics=TOPICS, **kw)


def create(store: TinyStore, text: str, owner: str = "U0ALICE001", **kw: Any) -> Subscription:
    """`create_subscription` in a transaction of its own, as one Slack command."""
    with store.transaction() as tx:
        return create_in(tx, text, owner, **kw)


def remove(store: TinyStore, sub_id: str, *, by: str, is_admin: bool) -> Subscription:
    with store.transaction() as tx:
        return delete_subscription(tx, sub_id, by=by, is_admin=is_admin)


def mute(store: TinyStore, sub_id: str, muted: bool, *, by: str, is_admin: bool) -> Subscription:
    with store.transaction() as tx:
        return set_muted(tx, sub_id, muted, by=by, is_admin=is_admin)


def enqueue(store: TinyStore, alerts: list[Alert]) -> None:
    with store.transaction() as tx:
        tx.alerts.enqueue(alerts)


# ------------------------------------------------------------------ creating


@pytest.mark.parametrize(
    ("text", "topic", "query"),
    [
        pytest.param("entity-list", "entity-list", None, id="topic-id"),
        pytest.param("  Entity-List ", "entity-list", None, id="topic-id-any-case"),
        pytest.param("semiconductor", None, "semiconductor", id="word-near-a-topic-is-a-query"),
        pytest.param("ipef", None, "ipef", id="single-word-not-a-topic-is-a-query"),
        pytest.param(
            ' "export control" OR ECCN ', None, '"export control" OR ECCN', id="query-trimmed"
        ),
    ],
)
def test_topic_or_query(store: TinyStore, text: str, topic: str | None, query: str | None) -> None:
    made = create(store, text)
    assert (made.topic, made.query) == (topic, query)
    assert ID_RE.match(made.id), made.id
    assert made.created_at == NOW
    assert made.mode == "immediate"
    assert get_subscription(store.subscriptions, made.id) == made


@pytest.mark.parametrize(
    ("options", "mode", "daily_at", "zone"),
    [
        pytest.param({}, "immediate", "09:00", "UTC", id="defaults"),
        pytest.param({"mode": "Immediately"}, "immediate", "09:00", "UTC", id="immediately"),
        pytest.param({"mode": "hourly"}, "hourly", "09:00", "UTC", id="hourly"),
        pytest.param({"mode": "daily"}, "daily", "09:00", "UTC", id="daily-default-time"),
        pytest.param(
            {"mode": "daily", "daily_at": "8:05", "timezone": "asia/tokyo"},
            "daily",
            "08:05",
            "Asia/Tokyo",
            id="daily-time-and-zone-normalized",
        ),
    ],
)
def test_delivery_options(
    store: TinyStore, options: dict[str, str], mode: str, daily_at: str, zone: str
) -> None:
    made = create(store, "entity-list", **options)
    assert (made.mode, made.daily_at, made.timezone) == (mode, daily_at, zone)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        pytest.param(
            '"entity list',
            {},
            "that query does not work: unclosed quote at column 1",
            id="unclosed-quote",
        ),
        pytest.param(
            "export controls AND",
            {},
            "that query does not work: AND needs a term after it (column 17)",
            id="dangling-and",
        ),
        pytest.param(
            "   ",
            {},
            "say what to subscribe to: a topic id (one of entity-list, semiconductors) or a "
            'query such as "export control" OR ECCN',
            id="empty",
        ),
        pytest.param(
            "entity-list",
            {"mode": "weekly"},
            "unknown delivery mode 'weekly': use immediate, hourly or daily",
            id="unknown-mode",
        ),
        pytest.param(
            "entity-list",
            {"mode": "daily", "daily_at": "25:00"},
            "'25:00' is not a time of day: use 24-hour HH:MM, such as 08:30",
            id="bad-time",
        ),
        pytest.param(
            "entity-list",
            {"daily_at": "08:30"},
            "a delivery time (08:30) only applies to daily delivery: choose daily, or leave the "
            "time out for immediate delivery",
            id="time-without-daily",
        ),
        pytest.param(
            "entity-list",
            {"timezone": "Asia/Tokio"},
            "unknown time zone 'Asia/Tokio' (did you mean Asia/Tokyo?): use an IANA name such "
            "as Asia/Tokyo or America/New_York",
            id="zone-typo",
        ),
        pytest.param(
            "entity-list",
            {"timezone": "../../etc/passwd"},
            "unknown time zone '../../etc/passwd': use an IANA name such as Asia/Tokyo or "
            "America/New_York",
            id="zone-path",
        ),
    ],
)
def test_refusals_say_what_is_wrong(
    store: TinyStore, text: str, options: dict[str, str], message: str
) -> None:
    with store.transaction() as tx:
        with pytest.raises(SubscriptionError) as caught:
            create_in(tx, text, **options)
        # Refused before anything was written, not only rolled back.
        assert tx.subscriptions.list() == []
    assert str(caught.value) == message
    assert store.subscriptions.list() == []


def test_duplicate_topic_names_the_existing_id(store: TinyStore) -> None:
    first = create(store, "entity-list", mode="hourly")
    with pytest.raises(SubscriptionError) as caught:
        create(store, "ENTITY-LIST")
    assert str(caught.value) == f"you are already subscribed to topic entity-list ({first.id})"


def test_duplicate_query_is_recognized_in_another_spelling(store: TinyStore) -> None:
    first = create(store, '"Export Controls" AND ECCN')
    with pytest.raises(SubscriptionError) as caught:
        create(store, '"export control"   eccn')
    assert str(caught.value) == (
        f'you are already subscribed to the query "Export Controls" AND ECCN ({first.id})'
    )
    # Another owner may have the same one.
    assert create(store, '"export control" eccn', owner="C0TEAM0001").owner == "C0TEAM0001"


@pytest.mark.parametrize(
    ("owner", "cap", "message"),
    [
        pytest.param(
            "U0ALICE001",
            50,
            "you already have 50 subscriptions (the limit); remove one with "
            "/brief unsubscribe <id>",
            id="user-default-cap",
        ),
        pytest.param(
            "C0TEAM0001",
            3,
            "this channel already has 3 subscriptions (the limit); remove one with "
            "/brief unsubscribe <id>",
            id="channel-small-cap",
        ),
    ],
)
def test_cap_per_owner(store: TinyStore, owner: str, cap: int, message: str) -> None:
    made = [create(store, f"word{n}", owner=owner, cap=cap) for n in range(cap)]
    with pytest.raises(SubscriptionError) as caught:
        create(store, "one more", owner=owner, cap=cap)
    assert str(caught.value) == message
    assert len({s.id for s in made}) == cap
    # The cap is per owner.
    assert create(store, "one more", owner="U0BOB00001", cap=cap).owner == "U0BOB00001"


def test_lowered_cap_says_the_limit(store: TinyStore) -> None:
    for n in range(4):
        create(store, f"word{n}")
    with pytest.raises(
        SubscriptionError,
        match=r"^you already have 4 subscriptions \(the limit "
        r"is 2\); remove one",
    ):
        create(store, "more", cap=2)


# ------------------------------------------------------------------ ids


def test_ids_are_short_random_and_unique(store: TinyStore) -> None:
    ids = [create(store, f"w{n}", owner=f"U{n % 7:09d}").id for n in range(200)]
    assert len(set(ids)) == 200
    assert all(ID_RE.match(i) for i in ids)
    # Random, not sequential: consecutive ids share no common shape.
    assert len({i[:3] for i in ids}) > 100


class _EveryShortIdTaken:
    """Pretends every five-character id is in use."""

    def __contains__(self, candidate: object) -> bool:
        return isinstance(candidate, str) and len(candidate) == 5

    def __len__(self) -> int:
        return 32**4

    def __iter__(self) -> Iterator[str]:
        return iter(())


def test_id_grows_when_short_ones_are_taken() -> None:
    found = new_subscription_id(_EveryShortIdTaken())
    assert re.match(r"^s[0-9a-hjkmnp-tv-z]{5}$", found)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("S7K2Q", "s7k2q"), (" s7k2q ", "s7k2q"), ("sL0I2", "s1012"), ("so0k1", "s00k1")],
)
def test_typed_ids_are_read_as_meant(typed: str, meant: str) -> None:
    assert normalize_subscription_id(typed) == meant


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    ("by", "is_admin", "allowed"),
    [
        pytest.param("C0TEAM0001", False, True, id="owner"),
        pytest.param("U0ALICE001", False, True, id="creator"),
        pytest.param("U0ADMIN001", True, True, id="admin"),
        pytest.param("U0MALLORY1", False, False, id="stranger"),
    ],
)
@pytest.mark.parametrize("action", ["remove", "mute"])
def test_who_may_change_a_subscription(
    store: TinyStore, by: str, is_admin: bool, allowed: bool, action: str
) -> None:
    made = create(store, "entity-list", owner="C0TEAM0001", created_by="U0ALICE001")
    # Typed by a user, in capitals: still found.
    typed = made.id.upper()

    def act(tx: Transaction) -> Subscription:
        if action == "remove":
            return delete_subscription(tx, typed, by=by, is_admin=is_admin)
        return set_muted(tx, typed, True, by=by, is_admin=is_admin)

    if allowed:
        with store.transaction() as tx:
            changed = act(tx)
        assert changed.id == made.id
        after = get_subscription(store.subscriptions, made.id)
        assert after is None if action == "remove" else (after is not None and after.muted)
    else:
        with store.transaction() as tx:
            with pytest.raises(SubscriptionPermissionError) as caught:
                act(tx)
            # Refused before anything was written, not only rolled back.
            assert get_subscription(tx.subscriptions, made.id) == made
        assert str(caught.value) == (
            f"you cannot {action} subscription {made.id}: only its owner (C0TEAM0001), the "
            "person who created it (U0ALICE001) or an admin can"
        )
        assert get_subscription(store.subscriptions, made.id) == made


def test_unknown_id_is_refused_clearly(store: TinyStore) -> None:
    with pytest.raises(SubscriptionNotFoundError) as caught:
        remove(store, " szzzz ", by="U0ALICE001", is_admin=True)
    assert str(caught.value) == (
        "there is no subscription 'szzzz'; /brief subscriptions lists yours with their ids"
    )


def test_unmute_restores(store: TinyStore) -> None:
    made = create(store, "entity-list")
    mute(store, made.id, True, by=made.owner, is_admin=False)
    back = mute(store, made.id, False, by=made.owner, is_admin=False)
    assert back == made
    assert get_subscription(store.subscriptions, made.id) == made


@pytest.mark.parametrize("action", ["remove", "mute"])
def test_removing_or_muting_drops_its_queued_alerts(store: TinyStore, action: str) -> None:
    mine = create(store, "entity-list")
    other = create(store, "semiconductors")
    due = NOW + timedelta(hours=1)
    enqueue(
        store,
        [
            Alert("U0ALICE001", 1, (mine.id,), NOW, due),
            Alert("U0ALICE001", 2, (mine.id, other.id), NOW, due),
            Alert("U0ALICE001", 3, (other.id,), NOW, due),
        ],
    )
    if action == "remove":
        remove(store, mine.id, by="U0ALICE001", is_admin=False)
    else:
        mute(store, mine.id, True, by="U0ALICE001", is_admin=False)
    assert [(a.item_seq, a.subscription_ids) for a in store.alerts.queued()] == [
        (2, (other.id,)),
        (3, (other.id,)),
    ]


@pytest.mark.parametrize("action", ["remove", "mute"])
def test_a_command_that_fails_half_way_leaves_nothing_behind(store: TinyStore, action: str) -> None:
    mine = create(store, "entity-list")
    queued = [Alert("U0ALICE001", 1, (mine.id,), NOW, NOW + timedelta(hours=1))]
    enqueue(store, queued)
    with pytest.raises(Boom), store.transaction() as tx:
        if action == "remove":
            delete_subscription(tx, mine.id, by="U0ALICE001", is_admin=False)
        else:
            set_muted(tx, mine.id, True, by="U0ALICE001", is_admin=False)
        assert tx.alerts.queued() == []
        raise Boom  # say, the reply to Slack failed before the commit
    assert get_subscription(store.subscriptions, mine.id) == mine
    assert store.alerts.queued() == queued
