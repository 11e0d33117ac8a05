"""Every typed record of the ports comes back as it was written: in the transaction that
wrote it, from the store once committed, and after a restart; deletes last; a rolled-back
transaction leaves none of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from bot.models import Alert, FeedState, SlackMessage, Subscription, replace
from bot.store.ports import (
    AddedFeed,
    AlertDelivery,
    DeliveryProblem,
    DigestPost,
    DigestState,
    FeedOverride,
    OpsNotice,
    ReadView,
    ScheduleOverride,
    Transaction,
)
from tests.store.contract.conftest import Stores

T = TypeVar("T")

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")
CHANNEL = "C0BRIEFING1"


class Boom(Exception):
    pass


def round_trip(
    stores: Stores, write: Callable[[Transaction], None], read: Callable[[ReadView], T]
) -> list[T]:
    """What `read` sees in the transaction that ran `write`, after its commit, after a reopen."""
    store = stores.open()
    with store.transaction() as tx:
        write(tx)
        inside = read(tx)
    committed = read(store)
    return [inside, committed, read(stores.reopen(store))]


# --------------------------------------------------------------------------- the records

FEED_STATE = FeedState(
    feed_id="fr-bis",
    last_attempt=NOW,
    last_success=NOW - timedelta(minutes=30),
    last_error="HTTP 503 from www.federalregister.gov",
    last_status=503,
    consecutive_failures=2,
    failing_since=NOW - timedelta(minutes=15),
    etag='W/"5f3a-1764059400"',
    last_modified="Tue, 24 Nov 2026 21:00:00 GMT",
    next_due=NOW + timedelta(minutes=10),
    warning="3 entries had no link",
    first_poll_done=True,
    items_stored=412,
)
SUBSCRIPTIONS = [
    Subscription(
        id="s7k2q",
        owner="U0ALICE001",
        created_by="U0ALICE001",
        created_at=datetime(2026, 11, 25, 17, 30, tzinfo=TOKYO),
        query='"export control" OR ECCN',
        mode="daily",
        daily_at="07:45",
        timezone="Europe/London",
        muted=True,
    ),
    Subscription(
        id="s9x0b",
        owner="C0TEAM0001",
        created_by="U0ALICE001",
        created_at=NOW + timedelta(minutes=1),
        topic="entity-list",
        mode="hourly",
    ),
]
DELIVERY = AlertDelivery(
    key="alerts:U0ALICE001:1764059400.5",
    owner="U0ALICE001",
    channel="D0ALICE0001",
    since_ts=1764059395.25,
    alert_keys=("U0ALICE001:12", "U0ALICE001:15"),
)
MESSAGES = (
    SlackMessage(
        text="Morning brief: 3 items",
        blocks=(
            {"type": "header", "text": {"type": "plain_text", "text": "Morning brief"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Entity List* additions — 輸出管理"},
                "fields": [{"type": "mrkdwn", "text": "a"}, {"type": "mrkdwn", "text": "b"}],
            },
            {"type": "divider"},
        ),
    ),
    SlackMessage(
        text="(continued)",
        blocks=({"type": "context", "elements": [{"type": "mrkdwn", "text": "2 more"}]},),
        in_thread=True,
    ),
)
INFLIGHT = DigestPost(
    key=f"digest:{CHANNEL}:{NOW.isoformat()}",
    since_ts=NOW.timestamp() - 5,
    seq=120,
    scheduled_for=NOW,
    items=3,
    parts=len(MESSAGES),
    messages=MESSAGES,
)
# As DigestSender keeps a digest cut short: the post (its parts too), with how far it got.
PARTIAL = replace(INFLIGHT, posted=1, ts="1764059400.000100")
PROBLEMS = [
    DeliveryProblem(target=CHANNEL, error="not_in_channel", at=NOW),
    DeliveryProblem(target="U0ALICE001", error="user_not_found", at=None),
]
FEED_OVERRIDES = [
    FeedOverride(
        feed_id="example-org-news",
        added=AddedFeed(
            url="https://example.org/news/feed.xml", tags=("us", "chips"), interval=900
        ),
        enabled=False,
        by="U0ADMIN0001",
        changed_at=NOW,
    ),
    FeedOverride(
        feed_id="example-org-rss",
        added=AddedFeed(url="https://example.org/rss"),
        by="U0ADMIN0001",
        changed_at=NOW,
        # Many workspaces: added by one, followed by another too.
        team_id="T0ALPHA001",
        followers=("T0ALPHA001", "T0BETA0002"),
    ),
    FeedOverride(feed_id="fr-bis", removed=True, by="U0ADMIN0001", changed_at=NOW),
    FeedOverride(feed_id="meti", enabled=True),
]
SCHEDULES = [
    ScheduleOverride(
        channel=CHANNEL,
        at="07:15",
        timezone="Asia/Tokyo",
        days="mon-fri",
        by="U0ADMIN0001",
        changed_at=NOW,
    ),
    ScheduleOverride(
        channel="C0NEWCHAN01",
        at="18:00",
        timezone="UTC",
        days="mon-sun",
        team_id="T0ALPHA001",
        enterprise_id="E0GRID0001",
    ),
]
NOTICES = [
    OpsNotice(feed_id="fr-bis", failing_since=NOW - timedelta(hours=3), notified_at=NOW),
    OpsNotice(feed_id="meti", failing_since=datetime(2026, 11, 25, 9, 0, tzinfo=TOKYO)),
]


# --------------------------------------------------------------------------- round trips


def test_feed_state(stores: Stores) -> None:
    bare = FeedState(feed_id="meti")

    def write(tx: Transaction) -> None:
        tx.feed_states.put(FEED_STATE)
        tx.feed_states.put(bare)

    def read(view: ReadView) -> tuple[Any, ...]:
        return (
            view.feed_states.get("fr-bis"),
            view.feed_states.get("meti"),
            view.feed_states.all(),
        )

    expected = (FEED_STATE, bare, {"fr-bis": FEED_STATE, "meti": bare})
    assert round_trip(stores, write, read) == [expected] * 3


def test_feed_state_put_replaces(stores: Stores) -> None:
    later = replace(FEED_STATE, consecutive_failures=0, failing_since=None, last_error=None)

    def write(tx: Transaction) -> None:
        tx.feed_states.put(FEED_STATE)
        tx.feed_states.put(later)

    assert round_trip(stores, write, lambda view: view.feed_states.all()) == [{"fr-bis": later}] * 3


def test_subscriptions(stores: Stores) -> None:
    def write(tx: Transaction) -> None:
        for sub in SUBSCRIPTIONS:
            tx.subscriptions.put(sub)

    def read(view: ReadView) -> tuple[Any, ...]:
        subs = view.subscriptions
        return (subs.get("s7k2q"), subs.get("s9x0b"), subs.get("szzzz"), subs.list(), subs.ids())

    expected = (*SUBSCRIPTIONS, None, SUBSCRIPTIONS, {"s7k2q", "s9x0b"})
    assert round_trip(stores, write, read) == [expected] * 3


def test_alert_deliveries(stores: Stores) -> None:
    other = replace(DELIVERY, key="alerts:C0TEAM0001:1", owner="C0TEAM0001", channel="C0TEAM0001")

    def write(tx: Transaction) -> None:
        tx.alert_deliveries.begin(DELIVERY)
        tx.alert_deliveries.begin(other)

    def read(view: ReadView) -> tuple[Any, ...]:
        ledger = view.alert_deliveries
        return (ledger.get(DELIVERY.key), ledger.get("nope"), sorted(ledger.all(), key=str))

    expected = (DELIVERY, None, sorted([DELIVERY, other], key=str))
    assert round_trip(stores, write, read) == [expected] * 3


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(DigestState(CHANNEL, seq=0, last_sent=NOW), id="settled"),
        pytest.param(DigestState(CHANNEL, seq=97, last_sent=NOW, inflight=INFLIGHT), id="inflight"),
        pytest.param(
            DigestState(CHANNEL, seq=97, last_sent=NOW, inflight=replace(INFLIGHT, messages=None)),
            id="inflight-without-messages",
        ),
        pytest.param(
            DigestState(CHANNEL, seq=97, last_sent=NOW, partial=PARTIAL),
            id="partial",
        ),
        pytest.param(
            DigestState(
                CHANNEL,
                seq=97,
                last_sent=NOW,
                inflight=replace(INFLIGHT, key="digest:next", messages=()),
                partial=PARTIAL,
            ),
            id="inflight-and-partial",
        ),
    ],
)
def test_digest_states(stores: Stores, state: DigestState) -> None:
    def read(view: ReadView) -> tuple[DigestState | None, DigestState | None]:
        return view.digests.get(CHANNEL), view.digests.get("C0OTHER0001")

    assert round_trip(stores, lambda tx: tx.digests.put(state), read) == [(state, None)] * 3


def test_digest_put_replaces(stores: Stores) -> None:
    first = DigestState(CHANNEL, seq=97, last_sent=NOW - timedelta(days=1), inflight=INFLIGHT)
    settled = DigestState(CHANNEL, seq=120, last_sent=NOW)

    def write(tx: Transaction) -> None:
        tx.digests.put(first)
        tx.digests.put(settled)

    assert round_trip(stores, write, lambda view: view.digests.get(CHANNEL)) == [settled] * 3


def test_delivery_problems(stores: Stores) -> None:
    def write(tx: Transaction) -> None:
        tx.delivery_problems.record(replace(PROBLEMS[0], error="channel_not_found"))
        for problem in PROBLEMS:
            tx.delivery_problems.record(problem)

    expected = {problem.target: problem for problem in PROBLEMS}
    assert round_trip(stores, write, lambda view: view.delivery_problems.all()) == [expected] * 3


def test_feed_and_schedule_overrides(stores: Stores) -> None:
    def write(tx: Transaction) -> None:
        for override in FEED_OVERRIDES:
            tx.overrides.put_feed(override)
        for schedule in SCHEDULES:
            tx.overrides.put_schedule(schedule)

    def read(view: ReadView) -> tuple[Any, ...]:
        return view.overrides.feeds(), view.overrides.schedules()

    expected = (
        {override.feed_id: override for override in FEED_OVERRIDES},
        {schedule.channel: schedule for schedule in SCHEDULES},
    )
    assert round_trip(stores, write, read) == [expected] * 3


def test_ops_notices(stores: Stores) -> None:
    def write(tx: Transaction) -> None:
        for notice in NOTICES:
            tx.ops_notices.put(notice)

    expected = {notice.feed_id: notice for notice in NOTICES}
    assert round_trip(stores, write, lambda view: view.ops_notices.all()) == [expected] * 3


# --------------------------------------------------------------------------- deletes


def write_everything(tx: Transaction) -> None:
    tx.feed_states.put(FEED_STATE)
    for sub in SUBSCRIPTIONS:
        tx.subscriptions.put(sub)
    tx.alerts.enqueue([Alert("U0ALICE001", 12, ("s7k2q",), NOW, NOW)])
    tx.alerts.set_match_cursor(120)
    tx.alert_deliveries.begin(DELIVERY)
    tx.digests.put(DigestState(CHANNEL, seq=97, last_sent=NOW, inflight=INFLIGHT))
    for problem in PROBLEMS:
        tx.delivery_problems.record(problem)
    for override in FEED_OVERRIDES:
        tx.overrides.put_feed(override)
    for schedule in SCHEDULES:
        tx.overrides.put_schedule(schedule)
    for notice in NOTICES:
        tx.ops_notices.put(notice)


def everything(view: ReadView) -> dict[str, Any]:
    return {
        "feed_states": view.feed_states.all(),
        "subscriptions": view.subscriptions.list(),
        "subscription_ids": view.subscriptions.ids(),
        "alerts": view.alerts.queued(),
        "match_cursor": view.alerts.match_cursor(),
        "alert_deliveries": view.alert_deliveries.all(),
        "digest": view.digests.get(CHANNEL),
        "delivery_problems": view.delivery_problems.all(),
        "feed_overrides": view.overrides.feeds(),
        "schedules": view.overrides.schedules(),
        "ops_notices": view.ops_notices.all(),
    }


def test_deletes_last(stores: Stores) -> None:
    store = stores.open()
    with store.transaction() as tx:
        write_everything(tx)
    with store.transaction() as tx:
        assert tx.subscriptions.delete("s7k2q") is True
        assert tx.subscriptions.delete("s7k2q") is False
        assert tx.subscriptions.delete("szzzz") is False
        tx.alert_deliveries.finish(DELIVERY.key)
        tx.alert_deliveries.finish("nope")
        tx.delivery_problems.clear(CHANNEL)
        tx.delivery_problems.clear("C0NOPROBLEM")
        tx.overrides.delete_feed("fr-bis")
        tx.overrides.delete_feed("nope")
        assert tx.overrides.delete_schedule(CHANNEL) is True
        assert tx.overrides.delete_schedule(CHANNEL) is False
        tx.ops_notices.delete("meti")
        tx.ops_notices.delete("nope")
        inside = everything(tx)
    expected = {
        "feed_states": {"fr-bis": FEED_STATE},
        "subscriptions": [SUBSCRIPTIONS[1]],
        "subscription_ids": {"s9x0b"},
        "alerts": [Alert("U0ALICE001", 12, ("s7k2q",), NOW, NOW)],
        "match_cursor": 120,
        "alert_deliveries": [],
        "digest": DigestState(CHANNEL, seq=97, last_sent=NOW, inflight=INFLIGHT),
        "delivery_problems": {"U0ALICE001": PROBLEMS[1]},
        "feed_overrides": {o.feed_id: o for o in FEED_OVERRIDES if o.feed_id != "fr-bis"},
        "schedules": {"C0NEWCHAN01": SCHEDULES[1]},
        "ops_notices": {"fr-bis": NOTICES[0]},
    }
    assert inside == expected
    assert everything(store) == expected
    assert everything(stores.reopen(store)) == expected


# --------------------------------------------------------------------------- rollback


EMPTY: dict[str, Any] = {
    "feed_states": {},
    "subscriptions": [],
    "subscription_ids": set(),
    "alerts": [],
    "match_cursor": 0,
    "alert_deliveries": [],
    "digest": None,
    "delivery_problems": {},
    "feed_overrides": {},
    "schedules": {},
    "ops_notices": {},
}


def test_a_rolled_back_transaction_leaves_no_record(stores: Stores) -> None:
    store = stores.open()
    with pytest.raises(Boom), store.transaction() as tx:
        write_everything(tx)
        assert everything(tx) != EMPTY
        raise Boom
    assert everything(store) == EMPTY
    assert everything(stores.reopen(store)) == EMPTY


def test_a_rolled_back_transaction_changes_and_deletes_nothing(stores: Stores) -> None:
    store = stores.open()
    with store.transaction() as tx:
        write_everything(tx)
    before = everything(store)
    with pytest.raises(Boom), store.transaction() as tx:
        tx.feed_states.put(FeedState(feed_id="fr-bis"))
        tx.subscriptions.delete("s7k2q")
        tx.subscriptions.put(replace(SUBSCRIPTIONS[1], muted=True))
        tx.alerts.mark_delivered(["U0ALICE001:12"], now=NOW)
        tx.alerts.set_match_cursor(7)
        tx.alert_deliveries.finish(DELIVERY.key)
        tx.digests.put(DigestState(CHANNEL, seq=120, last_sent=NOW))
        tx.delivery_problems.clear(CHANNEL)
        tx.overrides.delete_feed("fr-bis")
        tx.overrides.put_feed(FeedOverride(feed_id="meti", enabled=False))
        tx.overrides.delete_schedule(CHANNEL)
        tx.ops_notices.delete("fr-bis")
        raise Boom
    assert everything(store) == before
    assert store.alerts.sent_keys() == set()
    reopened = stores.reopen(store)
    assert everything(reopened) == before
    assert reopened.alerts.sent_keys() == set()
