"""Match new items against subscriptions and turn the hits into alerts (pure: no I/O).

`SubscriptionMatcher` compiles a set of subscriptions once: each distinct
query text (a topic's query, or an ad-hoc one) is parsed once, however many
subscriptions share it, and all of them go into one `bot.find.query.QueryMatcher`,
which only evaluates the queries whose required words occur in an item. The
runtime keeps a matcher while the subscriptions and topics are unchanged
(bot/app/matchers.py); `match_items` is the one-shot form.

What is never alerted: backlog items (a feed's first poll), items whose
`extras["duplicate_of"]` is set (the same story was already stored from another
feed, and alerted then), and muted subscriptions.

One `Alert` per (owner, item) names every subscription of that owner the item
matched, so an item that matches three of one user's subscriptions is one
message naming three. Its `due_at` is the earliest of those subscriptions':

- immediate: `now`;
- hourly: the next top of the hour strictly after `now`, on the subscription's
  clock (the same instant as UTC's except in zones offset by a part of an hour,
  such as Asia/Kolkata);
- daily: the next `daily_at` strictly after `now`, on the wall clock of the
  subscription's `timezone`, so 09:00 stays 09:00 across a daylight-saving
  change. A time that does not exist that day (inside a spring-forward gap) is
  read with the offset from before the gap, which moves it forward by the gap
  (02:30 becomes 03:30 in America/New_York), and a time that occurs twice (fall
  back) means its first occurrence: both as RFC 5545 section 3.3.5 defines for
  DATE-TIME with a TZID, and what PEP 495's `fold=0` gives.

A subscription that cannot be matched (its topic was removed from feeds.yaml,
its stored query no longer parses, it has neither) is skipped, never fatal: it
is listed in `SubscriptionMatcher.problems` and logged once per compile, so the
caller can tell its owner. One whose delivery schedule is unusable (an unknown
mode or zone in a hand-edited record) is still matched, is due immediately
(an early alert beats a lost one) and is reported the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.model import TopicConfig
from bot.find.query.document import prepare_doc
from bot.find.query.matcher import Query, QueryMatcher
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import Alert, Item, Subscription, as_utc

__all__ = [
    "DELIVERY_MODES",
    "MatchProblem",
    "SubscriptionMatcher",
    "compute_due_at",
    "match_items",
    "parse_daily_at",
]

log = logging.getLogger(__name__)

#: The delivery modes a subscription can have.
DELIVERY_MODES = ("immediate", "hourly", "daily")

_DAILY_AT_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_NO_FEED_TAGS: Mapping[str, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class MatchProblem:
    """A subscription that is skipped (or delivered differently), and why, in plain words."""

    subscription_id: str
    owner: str
    message: str

    def __str__(self) -> str:
        return f"subscription {self.subscription_id} of {self.owner}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Schedule:
    """A subscription's delivery timing, resolved once per compile."""

    mode: str
    zone: tzinfo
    daily_at: time

    def due_at(self, now: datetime) -> datetime:
        if self.mode == "hourly":
            # Floor to the hour on the subscription's clock; `fold` carried by
            # astimezone keeps a repeated hour (fall back) unambiguous.
            local = now.astimezone(self.zone)
            top = local.replace(minute=0, second=0, microsecond=0)
            return top.astimezone(UTC) + timedelta(hours=1)
        if self.mode == "daily":
            day = now.astimezone(self.zone).date()
            # Today's time may have passed; tomorrow's cannot have, so two
            # candidates are enough (a third guards against odd zone data).
            for offset in range(3):
                # fold=0 (the default): gap and repeated times as in RFC 5545 3.3.5.
                local = datetime.combine(day + timedelta(days=offset), self.daily_at, self.zone)
                instant = local.astimezone(UTC)
                if instant > now:
                    return instant
        return now


def _read_schedule(subscription: Subscription) -> tuple[_Schedule, str | None]:
    """The subscription's schedule, or an immediate one and the reason it could not be read."""
    immediate = _Schedule("immediate", UTC, time(0))
    if subscription.mode not in DELIVERY_MODES:
        return immediate, (
            f"unknown delivery mode {subscription.mode!r}; its alerts are sent immediately"
        )
    try:
        zone: tzinfo = ZoneInfo(subscription.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return immediate, (
            f"unknown time zone {subscription.timezone!r}; its alerts are sent immediately"
        )
    at = parse_daily_at(subscription.daily_at or "")
    if at is None:
        if subscription.mode == "daily":
            return immediate, (
                f"daily time {subscription.daily_at!r} is not HH:MM; its alerts are sent "
                "immediately"
            )
        at = time(9)
    return _Schedule(subscription.mode, zone, at), None


def parse_daily_at(text: str) -> time | None:
    """The time of day in 24-hour "HH:MM" (or "H:MM"), or None when `text` is not one."""
    found = _DAILY_AT_RE.fullmatch(text.strip())
    return None if found is None else time(int(found.group(1)), int(found.group(2)))


def compute_due_at(subscription: Subscription, now: datetime) -> datetime:
    """When an alert for `subscription` found at `now` goes out (UTC; see the module docstring).

    A naive `now` is taken to be UTC. An unusable schedule means immediately.
    """
    schedule, _ = _read_schedule(subscription)
    return schedule.due_at(as_utc(now))


@dataclass(frozen=True, slots=True)
class _Group:
    """The subscriptions of one owner that share one query text: they always match together."""

    index: int  # 0 .. number of groups - 1: where its due time is cached
    owner: str
    first: int  # ordinal of its first subscription: alerts come in subscription order
    members: tuple[tuple[int, str], ...]  # (ordinal, subscription id), by ordinal
    ids: tuple[str, ...]  # the ids of `members`, ready for an Alert
    schedules: tuple[_Schedule, ...]


class SubscriptionMatcher:
    """A set of subscriptions compiled once, then matched against batches of items.

    Build a new one when subscriptions or topics change; `problems` lists the
    subscriptions that could not be compiled (see the module docstring).
    """

    __slots__ = ("_group_count", "_matcher", "_slot_groups", "_subscription_count", "problems")

    def __init__(
        self, subscriptions: Iterable[Subscription], topics: Mapping[str, TopicConfig]
    ) -> None:
        queries, targets, problems = _compile_queries(subscriptions, topics)
        slot_groups = _group_by_owner(targets)
        self._matcher: QueryMatcher[int] = QueryMatcher(queries)
        self._slot_groups = slot_groups
        self._group_count = sum(len(groups) for groups in slot_groups)
        self._subscription_count = sum(len(members) for members in targets)
        self.problems: tuple[MatchProblem, ...] = tuple(problems)
        for problem in problems:
            log.warning("%s", problem)

    def __len__(self) -> int:
        """How many subscriptions are matched (muted and skipped ones not counted)."""
        return self._subscription_count

    def match(
        self,
        items: Iterable[Item],
        *,
        now: datetime,
        feed_tags: Mapping[str, tuple[str, ...]] = _NO_FEED_TAGS,
        every_item: bool = False,
    ) -> list[Alert]:
        """Return the alerts for `items`: in item order, then by the order subscriptions were given.

        `every_item` matches backlog items and duplicates too (deadline
        reminders ask which subscriptions an item concerns, not what to alert).

        `feed_tags` maps a feed id to its tags from feeds.yaml, which `tag:`
        filters see as the item's own. `now` is the time of matching: it is
        each alert's `created_at`, the base of `due_at`, and what relative
        filters (`since:7d`) count back from. Raises ValueError for an item
        the store has not numbered (seq < 1): alerts are keyed by seq.
        """
        now = as_utc(now)
        dues = _DueTimes(self._group_count, now)
        alerts: list[Alert] = []
        for item in items:
            if not every_item and (item.backlog or item.duplicate_of is not None):
                continue
            if item.seq < 1:
                raise ValueError(
                    f"item {item.id!r} of feed {item.feed_id!r} has no seq: "
                    "only items kept by the store can be matched"
                )
            doc = prepare_doc(item, feed_tags=feed_tags.get(item.feed_id, ()))
            hits = self._matcher.match(doc, now=now)
            if len(hits) == 1:
                # The common case: each owner's subscriptions to that one query.
                for group in self._slot_groups[hits[0]]:
                    alerts.append(Alert(group.owner, item.seq, group.ids, now, dues.of(group)))
            else:
                alerts += self._merged_alerts(item.seq, hits, now, dues)
        return alerts

    def _merged_alerts(
        self, seq: int, hits: Sequence[int], now: datetime, dues: _DueTimes
    ) -> list[Alert]:
        """One alert per owner for an item that matched several queries (or none)."""
        # owner -> [first ordinal, its groups...]: sorting these lists orders
        # owners by their first subscription (ordinals are unique, so the
        # groups themselves are never compared).
        by_owner: dict[str, list[Any]] = {}
        for slot in hits:
            for group in self._slot_groups[slot]:
                entry = by_owner.get(group.owner)
                if entry is None:
                    by_owner[group.owner] = [group.first, group]
                else:
                    entry.append(group)
                    entry[0] = min(entry[0], group.first)
        alerts: list[Alert] = []
        for entry in sorted(by_owner.values()):
            groups: list[_Group] = entry[1:]
            if len(groups) == 1:
                ids, due = groups[0].ids, dues.of(groups[0])
            else:
                members = sorted(member for group in groups for member in group.members)
                ids = tuple(sub_id for _, sub_id in members)
                due = min(dues.of(group) for group in groups)
            alerts.append(Alert(groups[0].owner, seq, ids, now, due))
        return alerts


def match_items(
    items: Sequence[Item],
    subscriptions: Sequence[Subscription],
    topics: Mapping[str, TopicConfig],
    *,
    now: datetime,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_FEED_TAGS,
) -> list[Alert]:
    """Compile `subscriptions` and match `items` once (see `SubscriptionMatcher.match`).

    Subscriptions that cannot be matched are logged as warnings and skipped;
    build a `SubscriptionMatcher` to get them as `problems`.
    """
    return SubscriptionMatcher(subscriptions, topics).match(items, now=now, feed_tags=feed_tags)


class _DueTimes:
    """Each group's due time for one `match` call: it depends only on the group and `now`."""

    __slots__ = ("_dues", "_now")

    def __init__(self, group_count: int, now: datetime) -> None:
        self._dues: list[datetime | None] = [None] * group_count
        self._now = now

    def of(self, group: _Group) -> datetime:
        due = self._dues[group.index]
        if due is None:
            due = self._dues[group.index] = min(s.due_at(self._now) for s in group.schedules)
        return due


# A subscription to match, in the order given: (ordinal, subscription, its schedule).
_Target = tuple[int, Subscription, _Schedule]


def _compile_queries(
    subscriptions: Iterable[Subscription], topics: Mapping[str, TopicConfig]
) -> tuple[list[tuple[int, Query]], list[list[_Target]], list[MatchProblem]]:
    """(slot, query) per distinct query text, the subscriptions of each slot, and the problems.

    Muted subscriptions are left out; one that cannot be matched is a problem instead.
    """
    problems: list[MatchProblem] = []
    # Distinct query texts: six topics shared by hundreds of subscriptions
    # are parsed and evaluated six times, not hundreds.
    slot_of_text: dict[str, int | QueryError] = {}
    queries: list[tuple[int, Query]] = []
    targets: list[list[_Target]] = []
    for ordinal, sub in enumerate(subscriptions):
        if sub.muted:
            continue
        text, missing = _query_text(sub, topics)
        if text is None:
            problems.append(MatchProblem(sub.id, sub.owner, missing))
            continue
        slot = slot_of_text.get(text)
        if slot is None:
            slot = slot_of_text[text] = _new_slot(text, queries, targets)
        if isinstance(slot, QueryError):
            what = f"topic {sub.topic}'s query" if sub.topic else "its query"
            problems.append(
                MatchProblem(sub.id, sub.owner, f"{what} no longer parses: {slot}; skipped")
            )
            continue
        schedule, trouble = _read_schedule(sub)
        if trouble is not None:
            problems.append(MatchProblem(sub.id, sub.owner, trouble))
        targets[slot].append((ordinal, sub, schedule))
    return queries, targets, problems


def _new_slot(
    text: str, queries: list[tuple[int, Query]], targets: list[list[_Target]]
) -> int | QueryError:
    """Parse a query text seen for the first time: its new slot, or why it does not parse."""
    try:
        query = parse_query(text)
    except QueryError as err:
        return err
    slot = len(targets)
    queries.append((slot, query))
    targets.append([])
    return slot


def _group_by_owner(targets: Sequence[Sequence[_Target]]) -> list[tuple[_Group, ...]]:
    """Per query slot, its subscriptions grouped by owner; groups numbered across all slots."""
    # Matching an item then costs one step per alert, not one per subscription
    # (a popular topic can name hundreds).
    slot_groups: list[tuple[_Group, ...]] = []
    count = 0
    for members in targets:
        by_owner: dict[str, list[_Target]] = {}
        for member in members:
            by_owner.setdefault(member[1].owner, []).append(member)
        groups = []
        for owner, owned in by_owner.items():
            groups.append(
                _Group(
                    index=count,
                    owner=owner,
                    first=owned[0][0],
                    members=tuple((ordinal, sub.id) for ordinal, sub, _ in owned),
                    ids=tuple(sub.id for _, sub, _ in owned),
                    schedules=tuple(schedule for _, _, schedule in owned),
                )
            )
            count += 1
        slot_groups.append(tuple(groups))
    return slot_groups


def _query_text(sub: Subscription, topics: Mapping[str, TopicConfig]) -> tuple[str | None, str]:
    """The query text to match for `sub`, or None and why there is none."""
    if sub.topic:
        topic = topics.get(sub.topic)
        if topic is None:
            return None, (
                f"topic {sub.topic} no longer exists in feeds.yaml; skipped until it is "
                "defined again or the subscription is removed"
            )
        return topic.query, ""
    if sub.query:
        return sub.query, ""
    return None, "it names neither a topic nor a query; skipped"
