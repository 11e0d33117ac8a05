"""Choose and order what one channel's digest shows; rendering is not done here.

`build_digest_view` is pure: the caller reads the candidate items from the
store (every item with a seq above the channel's cursor) and gets back a
`DigestView`, the input of the digest template. The rules:

- Left out: backlog items (a feed's first poll: old news, not new), except
  in a channel's first digest (`backlog_since` set): there the backlog items
  published since then are shown too, so day one is not empty. And left out:
  an
  item with `extras["duplicate_of"]`, the same story already stored from
  another feed. Its primary item stands for it and names its feed in
  `extras["also_in"]`. (A duplicate whose primary came before the cursor was
  considered by an earlier digest. A digest whose `feeds` leave out the
  primary's feed does not show the story either, since nothing here says
  which item a duplicate's `duplicate_of` names.)
- `digest.feeds` limits the feeds (empty: every feed); the other items are
  every new item the digest considers, and it accounts for each of them.
- `digest.topics` limits the topics (empty: every topic of the
  configuration). An item matching none of the digest's topics is an "other
  new item": by `digest.others`, shown in an "Other new items" section after
  the topic sections ("show", the default: the newest `OTHERS_SHOWN`, the
  count of the rest and the command that lists them, `others_hint`), only
  counted ("count"), or left out ("hide").
- Exception: when the configuration defines no topic at all (and so the
  digest names none), there is nothing to group by, and every item goes into
  one section, "Latest" (topic id `latest`, hint `/brief latest`), rather
  than the digest being always empty or all "other".
- An item matching several topics is shown once, under its highest-priority
  topic; equal priorities go to the topic defined first in the configuration.
  Sections follow the same order; items in a section are newest first (by
  `Item.when`, then the later-stored first).
- At most `digest.max_items` items in all, taken in that order, so the
  lowest-priority sections give way first, and the "Other new items" gets
  what the topics leave (at most `OTHERS_SHOWN`; its count still says how
  many there were). `more_count` is how many topic items were cut, and
  `more_hint` the command that shows the topic that lost the most.
- `covered_through_seq` is the highest seq among ALL candidates (shown, cut,
  other, filtered out, backlog or duplicate), so the cursor moves past
  everything considered and the next digest never repeats an item. It is 0
  when there were no candidates: the caller keeps max(cursor, covered_through_seq).
- `period_label` says what the digest covers: the items since `since` (the
  last digest), in the channel's time zone.

A topic whose query does not parse (check-config reports it) matches nothing
here rather than stopping the digest, and a topic id the digest names but the
configuration no longer defines is ignored. Each shown item carries
`extras["feed_name"]` (its feed's display name) and, when it has
`extras["also_in"]`, `extras["also_in_names"]`, so a template needs no config.
`other_item_filter` answers, for one item, whether a digest would count it as
"other": what `/brief latest others` lists. `digest_deadlines` picks the
"Deadlines" section: this week's deadlines (bot/brief/deadlines.py) of the
items on the digest's topics and feeds, new or not, backlog or not (a rule
stored a month ago takes effect this week all the same).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from bot.brief.deadlines import Deadline, upcoming
from bot.brief.schedule import digest_zone
from bot.config.model import DigestConfig, TopicConfig
from bot.daynames import MONTHS, WEEKDAYS
from bot.find.query.document import prepare_doc
from bot.find.query.matcher import Query, QueryMatcher
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import DigestSection, DigestView, Item

__all__ = [
    "DEADLINE_DAYS",
    "LATEST_SECTION_ID",
    "LATEST_SECTION_TITLE",
    "OTHERS_COMMAND",
    "OTHERS_SHOWN",
    "build_digest_view",
    "digest_deadlines",
    "format_date_label",
    "format_period_label",
    "other_item_filter",
]

LATEST_SECTION_ID = "latest"
LATEST_SECTION_TITLE = "Latest"
LATEST_COMMAND = "/brief latest"
#: The most items the "Other new items" section shows.
OTHERS_SHOWN = 5
OTHERS_COMMAND = "/brief latest others"
# `/brief latest` lists 10 items unless told a number, and at most 50.
_LATEST_DEFAULT = 10
_LATEST_MAX = 50


_NO_NAMES: Mapping[str, str] = MappingProxyType({})
_NO_TAGS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


class _Topics:
    """A digest's topics, best first, and which of them an item goes under."""

    def __init__(
        self,
        digest: DigestConfig,
        topics: Sequence[TopicConfig],
        feed_tags: Mapping[str, tuple[str, ...]],
        backlog_since: datetime | None = None,
    ) -> None:
        self.chosen = _choose_topics(digest, topics)
        self._backlog_since = _aware(backlog_since) if backlog_since is not None else None
        # No topic defined at all: one "Latest" section, nothing is "other".
        self.group_all = not topics and not digest.topics
        self._feeds = frozenset(digest.feeds)
        self._feed_tags = feed_tags
        self._matcher: QueryMatcher[int] = QueryMatcher(
            (rank, query) for rank, (_, query) in enumerate(self.chosen)
        )

    def considers(self, item: Item) -> bool:
        """A new item of the digest's feeds: not a duplicate of a stored story, and not
        backlog unless published since `backlog_since` (a channel's first digest)."""
        if item.duplicate_of is not None:
            return False
        if item.backlog and (
            self._backlog_since is None or _aware(item.when) < self._backlog_since
        ):
            return False
        return not self._feeds or item.feed_id in self._feeds

    def rank(self, item: Item, now: datetime) -> int | None:
        """The index of the best topic `item` matches (0 for "Latest"), or None for none."""
        if self.group_all:
            return 0
        doc = prepare_doc(item, feed_tags=self._feed_tags.get(item.feed_id, ()))
        ranks = self._matcher.match(doc, now=now)
        return min(ranks) if ranks else None

    def section(self, rank: int) -> tuple[str, str]:
        """The topic id and section title of `rank`."""
        if self.group_all:
            return LATEST_SECTION_ID, LATEST_SECTION_TITLE
        topic = self.chosen[rank][0]
        return topic.id, topic.description or topic.id


def build_digest_view(
    items: Iterable[Item],
    digest: DigestConfig,
    topics: Sequence[TopicConfig],
    *,
    now: datetime,
    since: datetime | None = None,
    feed_names: Mapping[str, str] = _NO_NAMES,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_TAGS,
    backlog_since: datetime | None = None,
) -> DigestView:
    """Select, group, order and cut the candidate `items` for `digest` (see the module rules).

    `topics` is every topic of the configuration, in its order. `now` dates the
    header and resolves relative filters in topic queries (`since:7d`);
    `since` (when the last digest went out) starts the period the header names.
    `feed_tags` are each feed's tags, which `tag:` in a query also matches.
    `backlog_since` (a channel's first digest only) lets in the backlog items
    published since then.
    ValueError when the digest's time zone is unknown.
    """
    candidates = list(items)
    date_label = format_date_label(now, digest)  # ValueError for an unknown zone, before any work
    chosen = _Topics(digest, topics, feed_tags, backlog_since)
    grouped: dict[int, list[Item]] = {}
    others: list[Item] = []
    for item in candidates:
        if chosen.considers(item):
            rank = chosen.rank(item, now)
            (others if rank is None else grouped.setdefault(rank, [])).append(item)
    budget = max(digest.max_items, 0)
    sections, cut = _cut_to_budget(grouped, chosen, budget=budget, feed_names=feed_names)
    left = budget - sum(len(section.items) for section in sections)
    shown = _newest_first(others)[: min(left, OTHERS_SHOWN)] if digest.others == "show" else []
    others_count = 0 if digest.others == "hide" else len(others)
    return DigestView(
        channel=digest.channel,
        date_label=date_label,
        sections=tuple(sections),
        more_count=sum(cut.values()),
        more_hint=_more_hint(cut),
        covered_through_seq=max((item.seq for item in candidates), default=0),
        others=tuple(_with_feed_names(item, feed_names) for item in shown),
        others_count=others_count,
        others_hint=_others_hint(others_count),
        others_mode=digest.others,
        period_label=format_period_label(since, now, digest) if since is not None else "",
        summaries=digest.summaries,
    )


def other_item_filter(
    digest: DigestConfig,
    topics: Sequence[TopicConfig],
    *,
    now: datetime,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_TAGS,
) -> Callable[[Item], bool]:
    """A test: would `digest` count this item among its "Other new items"?

    True for a new item of the digest's feeds that matches none of its topics;
    always False when the configuration defines no topic (everything is "Latest").
    """
    chosen = _Topics(digest, topics, feed_tags)
    if chosen.group_all:
        return lambda item: False
    return lambda item: chosen.considers(item) and chosen.rank(item, now) is None


#: How far a digest's "Deadlines" section looks: today and the six days after, in its zone.
DEADLINE_DAYS = 7


def digest_deadlines(
    items: Iterable[Item],
    digest: DigestConfig,
    topics: Sequence[TopicConfig],
    *,
    now: datetime,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_TAGS,
) -> list[Deadline]:
    """This week's deadlines of `items` on the digest's topics and feeds, soonest first."""
    chosen = _Topics(digest, topics, feed_tags)
    today = _local(now, digest).date()
    on_topic = (
        item
        for item in items
        if (not digest.feeds or item.feed_id in digest.feeds) and chosen.rank(item, now) is not None
    )
    return upcoming(on_topic, today, today + timedelta(days=DEADLINE_DAYS - 1))


def _cut_to_budget(
    grouped: Mapping[int, list[Item]],
    chosen: _Topics,
    *,
    budget: int,
    feed_names: Mapping[str, str],
) -> tuple[list[DigestSection], dict[str, int]]:
    """The sections in rank order, newest first, within `budget` items in all.

    Also returns how many items each topic lost to the budget (topic id ->
    count, in section order): the lowest-priority sections give way first.
    """
    sections: list[DigestSection] = []
    cut: dict[str, int] = {}
    for rank in sorted(grouped):
        topic_id, title = chosen.section(rank)
        newest_first = _newest_first(grouped[rank])
        shown = newest_first[:budget]
        budget -= len(shown)
        if len(newest_first) > len(shown):
            cut[topic_id] = len(newest_first) - len(shown)
        if shown:
            named = tuple(_with_feed_names(item, feed_names) for item in shown)
            sections.append(DigestSection(topic_id=topic_id, title=title, items=named))
    return sections, cut


def _more_hint(cut: Mapping[str, int]) -> str:
    """The command that shows the topic that lost the most items to the budget."""
    if not cut:
        return LATEST_COMMAND
    # max() keeps the first of equal counts: the higher-priority topic.
    worst = max(cut, key=cut.__getitem__)
    return LATEST_COMMAND if worst == LATEST_SECTION_ID else f"{LATEST_COMMAND} {worst}"


def _others_hint(count: int) -> str:
    """The command that lists the other new items: all of them, as far as `/brief latest` goes."""
    if count <= _LATEST_DEFAULT:
        return OTHERS_COMMAND
    return f"{OTHERS_COMMAND} {min(count, _LATEST_MAX)}"


def format_date_label(now: datetime, digest: DigestConfig) -> str:
    """`now` as a date in the digest's zone: "Wednesday 25 November 2026" (naive = UTC)."""
    local = _local(now, digest)
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}"


def format_period_label(since: datetime, now: datetime, digest: DigestConfig) -> str:
    """The start of the period a digest covers: "since Tuesday 24 November, 08:30 JST".

    In the digest's zone, named by its abbreviation ("JST", "CET"), or by its
    offset from UTC where the zone has none ("UTC+07"); the year only when it
    is not `now`'s.
    """
    local = _local(since, digest)
    zone = local.tzname() or ""
    if not zone[:1].isalpha():
        zone = f"UTC{zone}"
    day = f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
    if local.year != _local(now, digest).year:
        day += f" {local.year}"
    return f"since {day}, {local:%H:%M} {zone}"


def _local(moment: datetime, digest: DigestConfig) -> datetime:
    """`moment` in the digest's zone (naive = UTC); ValueError for an unknown zone."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(digest_zone(digest))


def _choose_topics(
    digest: DigestConfig, topics: Sequence[TopicConfig]
) -> list[tuple[TopicConfig, Query]]:
    """The digest's topics with their parsed queries, best first (priority, then config order)."""
    wanted = set(digest.topics)
    seen: set[str] = set()
    usable: list[tuple[int, TopicConfig, Query]] = []
    for position, topic in enumerate(topics):
        if topic.id in seen or (wanted and topic.id not in wanted):
            continue
        seen.add(topic.id)
        try:
            query = parse_query(topic.query)
        except QueryError:
            continue  # reported by check-config; the other topics still go out
        usable.append((position, topic, query))
    # sorted() is stable, so equal priorities keep the configuration's order.
    usable.sort(key=lambda entry: -entry[1].priority)
    return [(topic, query) for _, topic, query in usable]


def _newest_first(items: Iterable[Item]) -> list[Item]:
    return sorted(items, key=_recency, reverse=True)


def _recency(item: Item) -> tuple[datetime, int]:
    return (_aware(item.when), item.seq)


def _aware(when: datetime) -> datetime:
    # Feeds give UTC; a naive time is taken to be UTC, so comparisons never mix kinds.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _with_feed_names(item: Item, feed_names: Mapping[str, str]) -> Item:
    extras = dict(item.extras)
    extras["feed_name"] = feed_names.get(item.feed_id) or item.feed_id
    also_in = item.extras.get("also_in")
    if isinstance(also_in, list | tuple):
        extras["also_in_names"] = [
            feed_names.get(feed_id) or feed_id for feed_id in also_in if isinstance(feed_id, str)
        ]
    return dataclasses.replace(item, extras=extras)
