"""Deadline reminders: which are due now, for whom (pure: no I/O).

A subscription has `remind` (days before a deadline, default 7 and 1; empty
is off). Its owner gets one reminder per lead time before each deadline
(`bot.brief.deadlines.upcoming`: comments close, a rule takes effect) of a
Federal Register document one of whose items the subscription matches (its
topic's or its own query, as alerts match, but backlog items and items from a
second feed count too: they are the same document).

`due_reminders` is computed afresh on every run from the stored facts; the
ledger (`bot.store.ports.reminders`) only says which keys were posted. So a
correction that moves a date needs nothing withdrawn: the old date's keys are
never due again, the new date's are. Not obvious:

- One reminder per owner, not per subscription: a user subscribed to a topic
  and to a query that both match a rule gets one reminder naming both.
- Time of day. A reminder is due at 09:00 (the subscription's `daily_at` for
  a daily one) on the subscriber's clock: the subscription's zone, or, for a
  user's subscription left at UTC, the user's Slack zone when the caller can
  tell it (`user_zone`). It is sent only within the 12 hours after that time
  of a day, never at 3 am: one due at night waits for the morning.
- Late. When the bot was down, or a correction moved a date closer, the
  latest lead time passed is sent once, saying the days actually left
  ("comments close in 3 days"); the longer ones passed are not sent at all.
  A deadline passed gets nothing.
- Known too late. A lead time whose moment came before the subscription
  existed or before the bot first saw the document is not sent: the alert
  and `/brief deadlines` told of it, and a new subscriber does not get a
  burst of reminders for everything already close.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.brief.deadlines import Deadline, upcoming
from bot.brief.match import SubscriptionMatcher, parse_daily_at
from bot.config.model import TopicConfig
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import Item, Subscription, as_utc
from bot.store.ports.reminders import reminder_key

__all__ = [
    "DEFAULT_REMIND",
    "MAX_REMIND_DAYS",
    "REMIND_AT",
    "DueReminder",
    "RemindError",
    "describe_remind",
    "due_reminders",
    "parse_remind",
    "remind_option",
]

#: Days before a deadline a new subscription is reminded.
DEFAULT_REMIND: tuple[int, ...] = (7, 1)
#: The longest lead time, and how many lead times one subscription may have.
MAX_REMIND_DAYS = 60
MAX_REMIND_COUNT = 5
#: When a reminder is due on the subscriber's clock (a daily subscription: its own time).
REMIND_AT = time(9)
#: How long after that time a reminder may still be sent that day.
WINDOW = timedelta(hours=12)

_OFF = frozenset({"off", "none", "no", "never"})
_DAYS = re.compile(r"[0-9]{1,3}d?", re.IGNORECASE)
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)

#: The Slack time zone of a user id, or None when unknown.
UserZone = Callable[[str], str | None]


class RemindError(ValueError):
    """A `remind:` value that cannot be read; `str(error)` is the sentence for the user."""


def parse_remind(text: str) -> tuple[int, ...]:
    """ "7,1" -> (7, 1); "off" -> (); days before a deadline, largest first, 0 = on the day."""
    cleaned = text.strip().lower()
    if cleaned in _OFF:
        return ()
    parts = [p.strip() for p in cleaned.split(",") if p.strip()]
    if not parts or not all(_DAYS.fullmatch(p) for p in parts):
        raise RemindError(
            f"remind:{text} is not a list of days: write remind:7,1 (days before a deadline) "
            "or remind:off"
        )
    days = sorted({int(p.rstrip("d")) for p in parts}, reverse=True)
    if days[0] > MAX_REMIND_DAYS:
        raise RemindError(f"remind: {days[0]} days is too far ahead: at most {MAX_REMIND_DAYS}")
    if len(days) > MAX_REMIND_COUNT:
        raise RemindError(f"remind: at most {MAX_REMIND_COUNT} reminders per deadline")
    return tuple(days)


def remind_option(days: Sequence[int]) -> str:
    """How the option is typed: "remind:7,1" or "remind:off"."""
    return "remind:" + (",".join(str(d) for d in days) if days else "off")


def describe_remind(days: Sequence[int]) -> str:
    """ "reminders 7 and 1 days before a deadline", "no deadline reminders", ..."""
    if not days:
        return "no deadline reminders"
    before = [str(d) for d in days if d]
    parts = []
    if before:
        listed = before[0] if len(before) == 1 else ", ".join(before[:-1]) + " and " + before[-1]
        parts.append(f"{listed} {'day' if before == ['1'] else 'days'} before")
    if 0 in days:
        parts.append("on the day of")
    noun = "a reminder" if len(days) == 1 else "reminders"
    return f"{noun} {' and '.join(parts)} a deadline"


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A reminder to post now: `days_before` is its lead time, `days_left` the days truly left."""

    owner: str
    deadline: Deadline
    days_before: int
    days_left: int
    subscription_ids: tuple[str, ...]

    @property
    def key(self) -> str:
        d = self.deadline
        return reminder_key(self.owner, d.document_number, d.kind, d.on, self.days_before)


def due_reminders(
    items: Sequence[Item],
    subscriptions: Sequence[Subscription],
    topics: Mapping[str, TopicConfig],
    *,
    now: datetime,
    sent: Collection[str],
    feed_tags: Mapping[str, tuple[str, ...]] | None = None,
    user_zone: UserZone | None = None,
) -> list[DueReminder]:
    """The reminders due at `now` whose keys are not in `sent`, by owner then deadline.

    `items` are the items of the documents with a date ahead (seq order).
    """
    now = as_utc(now)
    reminding = [s for s in subscriptions if s.remind and not s.muted]
    if not reminding or not items:
        return []
    concerned = _owners_by_document(items, reminding, topics, now, feed_tags or {})
    first_seen = _first_seen(items)
    today = now.date()
    ahead = upcoming(items, today - timedelta(days=1), today + timedelta(days=MAX_REMIND_DAYS + 1))
    found: list[DueReminder] = []
    for owner, subs_by_doc in sorted(concerned.items()):
        for deadline in ahead:
            subs = subs_by_doc.get(deadline.document_number)
            if not subs:
                continue
            seen = first_seen.get(deadline.document_number, _NEVER)
            due = _due(owner, deadline, subs, seen, now, user_zone)
            if due is not None and due.key not in sent:
                found.append(due)
    return found


def _owners_by_document(
    items: Sequence[Item],
    subscriptions: Sequence[Subscription],
    topics: Mapping[str, TopicConfig],
    now: datetime,
    feed_tags: Mapping[str, tuple[str, ...]],
) -> dict[str, dict[str, list[Subscription]]]:
    """owner -> document number -> the owner's subscriptions matching one of its items."""
    by_id = {sub.id: sub for sub in subscriptions}
    numbers = {item.seq: _number(item) for item in items}
    matcher = SubscriptionMatcher(subscriptions, topics)
    found: dict[str, dict[str, list[Subscription]]] = {}
    for alert in matcher.match(items, now=now, feed_tags=feed_tags, every_item=True):
        number = numbers.get(alert.item_seq)
        if number is None:
            continue
        subs = found.setdefault(alert.owner, {}).setdefault(number, [])
        subs += [by_id[i] for i in alert.subscription_ids if by_id[i] not in subs]
    order = {sub.id: n for n, sub in enumerate(subscriptions)}
    for docs in found.values():
        for subs in docs.values():
            subs.sort(key=lambda sub: order[sub.id])
    return found


def _number(item: Item) -> str | None:
    facts = FederalRegisterFacts.of(item.extras)
    return None if facts is None else facts.document_number


def _first_seen(items: Iterable[Item]) -> dict[str, datetime]:
    """When the bot first saw each document (its earliest item)."""
    found: dict[str, datetime] = {}
    for item in items:
        number = _number(item)
        if number is None:
            continue
        seen = as_utc(item.first_seen) if item.first_seen is not None else _NEVER
        found[number] = min(found.get(number, seen), seen)
    return found


def _due(
    owner: str,
    deadline: Deadline,
    subs: Sequence[Subscription],
    first_seen: datetime,
    now: datetime,
    user_zone: UserZone | None,
) -> DueReminder | None:
    """The one reminder of `deadline` due for `owner` now, if any (see the module docstring)."""
    zone, at = _clock(subs[0], user_zone)
    local = now.astimezone(zone)
    days_left = (deadline.on - local.date()).days
    if days_left < 0 or not _in_window(local, at):
        return None
    lead_times = sorted({days for sub in subs for days in sub.remind})
    passed = [d for d in lead_times if days_left < d or (days_left == d and local.time() >= at)]
    if not passed:
        return None
    days = passed[0]
    due_at = datetime.combine(deadline.on - timedelta(days=days), at, zone).astimezone(UTC)
    with_days = [sub for sub in subs if days in sub.remind]
    known = max(min(as_utc(sub.created_at) for sub in with_days), first_seen)
    if known > due_at:
        return None
    return DueReminder(owner, deadline, days, days_left, tuple(sub.id for sub in with_days))


def _clock(sub: Subscription, user_zone: UserZone | None) -> tuple[tzinfo, time]:
    """The subscriber's zone and the time of day reminders are due."""
    name = sub.timezone
    if name == "UTC" and user_zone is not None and not sub.owner_is_channel:
        name = user_zone(sub.owner) or name
    try:
        zone: tzinfo = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = UTC
    at = parse_daily_at(sub.daily_at or "") if sub.mode == "daily" else None
    return zone, at or REMIND_AT


def _in_window(local: datetime, at: time) -> bool:
    """Whether `local` lies within `WINDOW` after `at` of its own day (not past midnight)."""
    wall = local.replace(tzinfo=None)
    start = datetime.combine(wall.date(), at)
    end = min(start + WINDOW, datetime.combine(wall.date() + timedelta(days=1), time(0)))
    return start <= wall < end
