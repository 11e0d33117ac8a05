"""What a person's Home tab and the new-subscription preview show (pure: items in, picks out).

- `recent_matches`: the newest items on any of a person's subscriptions since
  a moment (this week), newest first, duplicates folded, capped.
- `count_matches`: how many items one query would have matched since a moment
  (the form's "would have matched 12 items in the last 30 days").
- `upcoming_deadlines`: the next comment deadlines and effective dates of
  Federal Register documents (`Item.extras["federal_register"]`, read with
  `FederalRegisterFacts`), soonest first.

Not obvious:
- Items come newest first by seq (the order the store first saw them), which
  is close to, not exactly, the order of publication: the walk stops at the
  first `STOP_AFTER` items in a row older than `since` rather than at the
  first one, so a late-arriving old item does not hide newer ones behind it.
- Backlog items (a feed's first poll) count: on a new install they are all
  there is, and the preview asks what a query *would* have matched.
- Muted subscriptions still show their items on the Home tab: muting stops
  alerts, not reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.find.query.document import prepare_doc
from bot.find.query.matcher import Query
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import Item, as_utc

__all__ = ["STOP_AFTER", "Deadline", "count_matches", "recent_matches", "upcoming_deadlines"]

# Consecutive items older than `since` after which a walk stops.
STOP_AFTER = 200
_NO_TAGS: Mapping[str, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Deadline:
    """A date a Federal Register document sets: comments close, or the rule takes effect."""

    on: date
    kind: str  # "comments close" or "effective"
    item: Item
    facts: FederalRegisterFacts


def _recent(items: Iterable[Item], since: datetime) -> Iterable[Item]:
    """The items newer than `since` (duplicates left out), stopping past a run of older ones."""
    since = as_utc(since)
    older = 0
    for item in items:
        if as_utc(item.when) < since:
            older += 1
            if older >= STOP_AFTER:
                return
            continue
        older = 0
        if item.duplicate_of is None:
            yield item


def recent_matches(
    items: Iterable[Item],
    queries: Sequence[Query],
    *,
    since: datetime,
    now: datetime,
    limit: int,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_TAGS,
) -> list[Item]:
    """The newest `limit` items since `since` that match any of `queries`, newest first."""
    if not queries or limit < 1:
        return []
    found: list[Item] = []
    for item in _recent(items, since):
        doc = prepare_doc(item, feed_tags=feed_tags.get(item.feed_id, ()))
        if any(query.matches(doc, now=now) for query in queries):
            found.append(item)
    found.sort(key=lambda i: as_utc(i.when), reverse=True)
    return found[:limit]


def count_matches(
    items: Iterable[Item],
    query: Query,
    *,
    since: datetime,
    now: datetime,
    feed_tags: Mapping[str, tuple[str, ...]] = _NO_TAGS,
) -> int:
    """How many items since `since` `query` matches."""
    return sum(
        1
        for item in _recent(items, since)
        if query.matches(prepare_doc(item, feed_tags=feed_tags.get(item.feed_id, ())), now=now)
    )


def upcoming_deadlines(items: Iterable[Item], *, today: date, limit: int) -> list[Deadline]:
    """The next `limit` deadlines on or after `today`, soonest first (one per date and document)."""
    found: dict[tuple[date, str, str], Deadline] = {}
    for item in items:
        if item.duplicate_of is not None:
            continue
        facts = FederalRegisterFacts.of(item.extras)
        if facts is None:
            continue
        for on, kind in (
            (facts.comments_close_on, "comments close"),
            (facts.effective_on, "effective"),
        ):
            if on is not None and on >= today:
                found.setdefault((on, kind, facts.document_number), Deadline(on, kind, item, facts))
    return sorted(found.values(), key=lambda d: (d.on, d.kind, d.facts.document_number))[:limit]
