"""`due_reminders` (bot/brief/reminders.py) over items holding the facts of recorded documents:
which reminder is due, for whom, at what hour on whose clock, once late, never too late."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.brief.reminders import (
    DueReminder,
    RemindError,
    describe_remind,
    due_reminders,
    parse_remind,
)
from bot.config.model import TopicConfig
from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts
from bot.models import Item, Subscription, replace
from tests.support.fedregapi import recorded_documents

TOPICS = {"bis": TopicConfig(id="bis", query="tag:bis")}
TAGS = {"fr-bis": ("bis",), "fr-other": ()}
# 2023-27783 (Rule) takes effect 2024-02-01; 2023-27019 (Proposed Rule): comments close 2024-03-04.
SEEN = datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
CREATED = datetime(2024, 1, 1, tzinfo=UTC)


def _item(number: str, seq: int, feed: str = "fr-bis", **dates: str) -> Item:
    doc: dict[str, Any] = {**recorded_documents()[number], **dates}
    facts = FederalRegisterFacts.from_api(doc)
    return Item(
        id=f"{feed}-{number}",
        feed_id=feed,
        title=facts.title,
        link=facts.html_url,
        seq=seq,
        first_seen=SEEN,
        backlog=True,  # stored by the feed's first poll: reminded all the same
        extras={EXTRAS_KEY: facts.as_extras()},
    )


def _sub(sub_id: str = "s1", owner: str = "U1", **fields: Any) -> Subscription:
    base: dict[str, Any] = {"topic": "bis", "created_at": CREATED}
    return Subscription(id=sub_id, owner=owner, created_by=owner, **{**base, **fields})


def _due(
    now: datetime,
    subs: list[Subscription],
    items: list[Item] | None = None,
    sent: set[str] | None = None,
    zones: dict[str, str] | None = None,
) -> list[DueReminder]:
    return due_reminders(
        items if items is not None else [_item("2023-27783", 1)],
        subs,
        TOPICS,
        now=now,
        sent=sent or set(),
        feed_tags=TAGS,
        user_zone=(zones or {}).get,
    )


def _shown(found: list[DueReminder]) -> list[tuple[str, str, str, int, int]]:
    return [
        (r.owner, r.deadline.document_number, r.deadline.kind, r.days_before, r.days_left)
        for r in found
    ]


def test_seven_days_before_at_nine_then_one_day_before_each_once() -> None:
    subs = [_sub()]
    assert _due(datetime(2024, 1, 25, 8, 59, tzinfo=UTC), subs) == []
    week = _due(datetime(2024, 1, 25, 9, 0, tzinfo=UTC), subs)
    assert _shown(week) == [("U1", "2023-27783", "effective", 7, 7)]
    assert week[0].key == "U1|2023-27783|effective|2024-02-01|7"
    assert week[0].subscription_ids == ("s1",)
    sent = {week[0].key}
    assert _due(datetime(2024, 1, 28, 10, 0, tzinfo=UTC), subs, sent=sent) == []
    day = _due(datetime(2024, 1, 31, 9, 30, tzinfo=UTC), subs, sent=sent)
    assert _shown(day) == [("U1", "2023-27783", "effective", 1, 1)]
    sent.add(day[0].key)
    assert _due(datetime(2024, 2, 1, 9, 30, tzinfo=UTC), subs, sent=sent) == []
    assert _due(datetime(2024, 2, 2, 9, 30, tzinfo=UTC), subs) == [], "the date has passed"


def test_on_the_subscribers_clock_and_never_at_night() -> None:
    tokyo = _sub("s1", "U1", timezone="Asia/Tokyo")
    new_york = _sub("s2", "U2", timezone="America/New_York")
    # 09:00 in Tokyo on 25 Jan is 00:00 UTC; in New York it is 14:00 UTC.
    at = datetime(2024, 1, 25, 0, 0, tzinfo=UTC)
    assert _shown(_due(at, [tokyo, new_york])) == [("U1", "2023-27783", "effective", 7, 7)]
    assert _due(at - timedelta(minutes=1), [tokyo, new_york]) == []
    assert [r.owner for r in _due(datetime(2024, 1, 25, 14, 0, tzinfo=UTC), [new_york])] == ["U2"]
    # A daily subscription is reminded at its own time of day.
    daily = _sub(mode="daily", daily_at="07:30", timezone="Europe/Paris")
    assert _due(datetime(2024, 1, 25, 6, 29, tzinfo=UTC), [daily]) == []
    assert len(_due(datetime(2024, 1, 25, 6, 30, tzinfo=UTC), [daily])) == 1
    # Late at night (22:00 in New York) a late reminder waits for the morning.
    assert _due(datetime(2024, 1, 27, 3, 0, tzinfo=UTC), [new_york]) == []
    morning = _due(datetime(2024, 1, 27, 14, 0, tzinfo=UTC), [new_york])
    assert _shown(morning) == [("U2", "2023-27783", "effective", 7, 5)]


def test_a_users_subscription_left_at_utc_goes_by_the_users_slack_zone() -> None:
    user, channel = _sub("s1", "U1"), _sub("s2", "C0CHANNEL1")
    zones = {"U1": "America/Los_Angeles", "C0CHANNEL1": "Asia/Tokyo"}
    at_nine_utc = datetime(2024, 1, 25, 9, 0, tzinfo=UTC)  # 01:00 in Los Angeles
    assert [r.owner for r in _due(at_nine_utc, [user, channel], zones=zones)] == ["C0CHANNEL1"]
    at_nine_la = datetime(2024, 1, 25, 17, 0, tzinfo=UTC)
    assert [r.owner for r in _due(at_nine_la, [user], zones=zones)] == ["U1"]


def test_late_after_downtime_the_latest_lead_time_only_with_the_days_left() -> None:
    found = _due(datetime(2024, 1, 31, 10, 0, tzinfo=UTC), [_sub()])
    assert _shown(found) == [("U1", "2023-27783", "effective", 1, 1)], "7 days is not sent late"
    on_the_day = _due(datetime(2024, 2, 1, 10, 0, tzinfo=UTC), [_sub()])
    assert _shown(on_the_day) == [("U1", "2023-27783", "effective", 1, 0)]


def test_known_too_late_is_not_sent() -> None:
    now = datetime(2024, 1, 27, 10, 0, tzinfo=UTC)
    newcomer = _sub(created_at=datetime(2024, 1, 26, tzinfo=UTC))
    assert _due(now, [newcomer]) == [], "subscribed after the 7-day moment: no burst"
    late_item = [replace(_item("2023-27783", 1), first_seen=datetime(2024, 1, 26, tzinfo=UTC))]
    assert _due(now, [_sub()], items=late_item) == [], "seen after the 7-day moment"
    # The 1-day reminder comes all the same.
    later = datetime(2024, 1, 31, 9, 0, tzinfo=UTC)
    assert _shown(_due(later, [newcomer])) == [("U1", "2023-27783", "effective", 1, 1)]


def test_a_moved_date_is_a_new_key_and_the_old_one_is_never_due_again() -> None:
    subs = [_sub()]
    before = _due(datetime(2024, 1, 25, 9, 0, tzinfo=UTC), subs)
    moved = [_item("2023-27783", 1, effective_on="2024-01-29")]
    # Corrected on the 26th: the new date is 3 days off, its 7-day moment long passed.
    after = _due(datetime(2024, 1, 26, 9, 0, tzinfo=UTC), subs, items=moved, sent={before[0].key})
    assert _shown(after) == [("U1", "2023-27783", "effective", 7, 3)]
    assert after[0].key == "U1|2023-27783|effective|2024-01-29|7" != before[0].key
    assert after[0].deadline.facts.changes == ()  # built straight from the API here
    old_day = _due(datetime(2024, 1, 31, 9, 0, tzinfo=UTC), subs, items=moved, sent=set())
    assert old_day == [], "the old date's 1-day reminder is never due: that date is gone"


def test_off_muted_and_unmatched_subscriptions_get_nothing() -> None:
    now = datetime(2024, 1, 25, 9, 0, tzinfo=UTC)
    assert _due(now, [_sub(remind=())]) == []
    assert _due(now, [_sub(muted=True)]) == []
    assert _due(now, [_sub(topic=None, query="tariffs NOT carrier")]) == []
    other_feed = [_item("2023-27783", 1, feed="fr-other")]
    assert _due(now, [_sub()], items=other_feed) == []


def test_one_reminder_per_owner_naming_each_subscription_and_per_lead_time() -> None:
    subs = [
        _sub("s1", "U1", remind=(7, 1)),
        _sub("s2", "U1", topic=None, query="carrier automated tariffs", remind=(3,)),
    ]
    week = _due(datetime(2024, 1, 25, 9, 0, tzinfo=UTC), subs)
    assert _shown(week) == [("U1", "2023-27783", "effective", 7, 7)]
    assert week[0].subscription_ids == ("s1",)
    three = _due(datetime(2024, 1, 29, 9, 0, tzinfo=UTC), subs, sent={week[0].key})
    assert _shown(three) == [("U1", "2023-27783", "effective", 3, 3)]
    assert three[0].subscription_ids == ("s2",)
    both = [_sub("s1", "U1"), _sub("s2", "U1", topic=None, query="carrier")]
    assert [r.subscription_ids for r in _due(datetime(2024, 1, 25, 9, 0, tzinfo=UTC), both)] == [
        ("s1", "s2")
    ]


def test_the_same_document_from_two_feeds_is_one_reminder() -> None:
    items = [_item("2023-27783", 1, feed="fr-other"), _item("2023-27783", 2)]
    found = _due(datetime(2024, 1, 25, 9, 0, tzinfo=UTC), [_sub()], items=items)
    assert _shown(found) == [("U1", "2023-27783", "effective", 7, 7)]


@pytest.mark.parametrize(
    ("text", "days", "words"),
    [
        ("7,1", (7, 1), "reminders 7 and 1 days before a deadline"),
        ("1", (1,), "a reminder 1 day before a deadline"),
        ("1,7,7", (7, 1), "reminders 7 and 1 days before a deadline"),
        ("14,3d,0", (14, 3, 0), "reminders 14 and 3 days before and on the day of a deadline"),
        ("OFF", (), "no deadline reminders"),
    ],
)
def test_parse_and_describe_remind(text: str, days: tuple[int, ...], words: str) -> None:
    assert parse_remind(text) == days
    assert describe_remind(days) == words


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("soon", "remind:soon is not a list of days"),
        ("61", "61 days is too far ahead: at most 60"),
        ("1,2,3,4,5,6", "at most 5 reminders"),
        ("", "is not a list of days"),
    ],
)
def test_a_bad_remind_says_what_to_write(text: str, problem: str) -> None:
    with pytest.raises(RemindError, match=problem):
        parse_remind(text)


def test_today_is_the_subscribers_today() -> None:
    """On the evening of 31 Jan in New York it is already 1 Feb in UTC: still one day left."""
    evening = datetime(2024, 2, 1, 1, 0, tzinfo=UTC)  # 20:00 on 31 Jan in New York
    found = _due(evening, [_sub(timezone="America/New_York")])
    assert _shown(found) == [("U1", "2023-27783", "effective", 1, 1)]
    assert found[0].deadline.on == date(2024, 2, 1)
