"""Choose and order what one channel's digest shows; rendering is not done here.

`build_digest_view` is pure: the caller reads the candidate items from the
store (every item with a seq above the channel's cursor) and gets back a
`DigestView`, the input of the digest template. The rules:

- Left out: backlog items (a feed's first poll: old news, not new), and an
  item with `extras["duplicate_of"]`, the same story already stored from
  another feed. Its primary item stands for it and names its feed in
  `extras["also_in"]`. (A duplicate whose primary came before the cursor was
  considered by an earlier digest. A digest whose `feeds` leave out the
  primary's feed does not show the story either, since nothing here says
  which item a duplicate's `duplicate_of` names.)
- `digest.feeds` limits the feeds (empty: every feed). `digest.topics` limits
  the topics (empty: every topic of the configuration); an item matching none
  of the digest's topics is left out, so a channel sees only what it asked for.
- Exception: when the configuration defines no topic at all (and so the
  digest names none), there is nothing to group by, and every item goes into
  one section, "Latest" (topic id `latest`, hint `/brief latest`), rather
  than the digest being always empty.
- An item matching several topics is shown once, under its highest-priority
  topic; equal priorities go to the topic defined first in the configuration.
  Sections follow the same order; items in a section are newest first (by
  `Item.when`, then the later-stored first).
- At most `digest.max_items` items in all, taken in that order, so the
  lowest-priority sections give way first. `more_count` is how many were cut,
  and `more_hint` the command that shows the topic that lost the most.
- `covered_through_seq` is the highest seq among ALL candidates (shown, cut,
  filtered out, backlog or duplicate), so the cursor moves past everything
  considered and the next digest never repeats an item. It is 0 when there
  were no candidates: the caller keeps max(cursor, covered_through_seq).

A topic whose query does not parse (check-config reports it) matches nothing
here rather than stopping the digest, and a topic id the digest names but the
configuration no longer defines is ignored. Each shown item carries
`extras["feed_name"]` (its feed's display name) and, when it has
`extras["also_in"]`, `extras["also_in_names"]`, so a template needs no config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

from bot.brief.schedule import digest_zone
from bot.config.model import DigestConfig, TopicConfig
from bot.find.query.document import prepare_doc
from bot.find.query.matcher import Query, QueryMatcher
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import DigestSection, DigestView, Item

__all__ = ["LATEST_SECTION_ID", "LATEST_SECTION_TITLE", "build_digest_view", "format_date_label"]

LATEST_SECTION_ID = "latest"
LATEST_SECTION_TITLE = "Latest"
LATEST_COMMAND = "/brief latest"

# English names, not the C library's locale-dependent %A and %B.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_NO_NAMES: Mapping[str, str] = MappingProxyType({})
_NO_TAGS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


def build_digest_view(
    items: Iterable[Item],
    digest: DigestConfig,
    topics: Sequence[TopicConfig],
    *,
    now: datetime,
    feed_names: Mapping[str, str] = _NO_NAMES,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_TAGS,
) -> DigestView:
    """Select, group, order and cut the candidate `items` for `digest` (see the module rules).

    `topics` is every topic of the configuration, in its order. `now` dates the
    header and resolves relative filters in topic queries (`since:7d`).
    `feed_tags` are each feed's tags, which `tag:` in a query also matches.
    ValueError when the digest's time zone is unknown.
    """
    candidates = list(items)
    date_label = format_date_label(now, digest)  # ValueError for an unknown zone, before any work
    chosen = _choose_topics(digest, topics)
    group_all = not topics and not digest.topics
    grouped = _group_by_topic(
        candidates, digest, chosen, group_all=group_all, now=now, feed_tags=feed_tags
    )
    sections, cut = _cut_to_budget(
        grouped, chosen, group_all=group_all, budget=max(digest.max_items, 0), feed_names=feed_names
    )
    return DigestView(
        channel=digest.channel,
        date_label=date_label,
        sections=tuple(sections),
        more_count=sum(cut.values()),
        more_hint=_more_hint(cut),
        covered_through_seq=max((item.seq for item in candidates), default=0),
    )


def _group_by_topic(
    candidates: Iterable[Item],
    digest: DigestConfig,
    chosen: Sequence[tuple[TopicConfig, Query]],
    *,
    group_all: bool,
    now: datetime,
    feed_tags: Mapping[str, tuple[str, ...]],
) -> dict[int, list[Item]]:
    """The items the digest may show, by section rank: an index into `chosen`, or 0 for "Latest".

    Backlog, duplicates and other feeds' items are left out; an item matching
    several topics goes under the best one (the lowest rank).
    """
    matcher: QueryMatcher[int] = QueryMatcher(
        (rank, query) for rank, (_, query) in enumerate(chosen)
    )
    feeds = frozenset(digest.feeds)
    grouped: dict[int, list[Item]] = {}
    for item in candidates:
        if item.backlog or item.duplicate_of is not None or (feeds and item.feed_id not in feeds):
            continue
        if group_all:
            grouped.setdefault(0, []).append(item)
            continue
        doc = prepare_doc(item, feed_tags=feed_tags.get(item.feed_id, ()))
        ranks = matcher.match(doc, now=now)
        if ranks:
            grouped.setdefault(min(ranks), []).append(item)
    return grouped


def _cut_to_budget(
    grouped: Mapping[int, list[Item]],
    chosen: Sequence[tuple[TopicConfig, Query]],
    *,
    group_all: bool,
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
        if group_all:
            topic_id, title = LATEST_SECTION_ID, LATEST_SECTION_TITLE
        else:
            topic = chosen[rank][0]
            topic_id, title = topic.id, topic.description or topic.id
        newest_first = sorted(grouped[rank], key=_recency, reverse=True)
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


def format_date_label(now: datetime, digest: DigestConfig) -> str:
    """`now` as a date in the digest's zone: "Wednesday 25 November 2026" (naive = UTC)."""
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    local = moment.astimezone(digest_zone(digest))
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"


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


def _recency(item: Item) -> tuple[datetime, int]:
    when = item.when
    # Feeds give UTC; a naive time is taken to be UTC, so sorting never mixes kinds.
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC), item.seq)


def _with_feed_names(item: Item, feed_names: Mapping[str, str]) -> Item:
    extras = dict(item.extras)
    extras["feed_name"] = feed_names.get(item.feed_id) or item.feed_id
    also_in = item.extras.get("also_in")
    if isinstance(also_in, list | tuple):
        extras["also_in_names"] = [
            feed_names.get(feed_id) or feed_id for feed_id in also_in if isinstance(feed_id, str)
        ]
    return dataclasses.replace(item, extras=extras)
