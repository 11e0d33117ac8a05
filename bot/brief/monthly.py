"""What a monthly briefing says: counts by topic and type, Entity List totals, deadlines, top items.

Pure, like the digest builder: the caller reads the stored items and gets
back a `MonthlyView`, the input of the `month.j2` template. The rules:

- The month is a calendar month in UTC (`Month`); an item belongs to it by
  `Item.when` (published, else first seen). A story repeated by another feed
  (`Item.duplicate_of`) counts once. Backlog items count: this is a look
  back, not news.
- By topic: the items matching each topic's query (an item matching two
  topics counts under both; `total` counts it once). A topic whose query does
  not parse is left out, as in digests.
- By type: the Federal Register document type of
  `Item.extras["federal_register"]` (Rule, Proposed Rule, Notice,
  Presidential Document); an item without those facts counts as `OTHER_TYPE`.
- Entity List: the additions per destination of the month's rules against
  the previous month's (`bot.brief.charts.entity_list_additions`: one count
  per rule, entries as BIS counts them).
- Deadlines: comment periods closing and rules taking effect in the month
  after the briefed one, from the Federal Register facts of every stored
  item (a rule published in January may take effect in March): what
  `bot/brief/deadlines.py`'s `upcoming` lists for those dates, as
  `/brief deadlines` and the digests do (once per document, corrections not
  beside the document they correct, soonest first).
- The ten most important items: Entity List rules first, then final rules
  (type "Rule"), then by how many topics an item matches, then the newest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.brief.charts import entity_list_additions, month_bounds
from bot.brief.deadlines import Deadline, upcoming
from bot.config.model import TopicConfig
from bot.daynames import MONTHS
from bot.find.query.document import prepare_doc
from bot.find.query.matcher import Query
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.ingest.entitylist import EXTRAS_KEY as ENTITY_LIST_KEY
from bot.ingest.fedreg.facts import TYPES, FederalRegisterFacts
from bot.models import Item

__all__ = [
    "OTHER_TYPE",
    "TOP_ITEMS",
    "DestinationChange",
    "Month",
    "MonthlyView",
    "TopicCount",
    "build_month",
]

TOP_ITEMS = 10
OTHER_TYPE = "Other"
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    """A calendar month; `Month.parse("2024-01")`, `Month.last_full(now)`."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """ "YYYY-MM"; ValueError saying what is wrong."""
        found = _MONTH.fullmatch(text.strip())
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1970:
            raise ValueError(f"{text!r} is not a month such as 2024-01")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, moment: datetime) -> Month:
        return cls(moment.year, moment.month)

    @classmethod
    def last_full(cls, now: datetime) -> Month:
        """The month before the one `now` is in."""
        return cls.of(now).previous

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return month_bounds(self.year, self.month)

    @property
    def label(self) -> str:
        """ "January 2024"."""
        return f"{MONTHS[self.month - 1]} {self.year}"

    @property
    def key(self) -> str:
        """ "2024-01"."""
        return f"{self.year:04d}-{self.month:02d}"

    def holds(self, day: date) -> bool:
        return (day.year, day.month) == (self.year, self.month)

    @property
    def days(self) -> tuple[date, date]:
        """The month's first and last day."""
        first = date(self.year, self.month, 1)
        return first, date(self.next.year, self.next.month, 1) - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TopicCount:
    topic_id: str
    title: str
    count: int


@dataclass(frozen=True, slots=True)
class DestinationChange:
    """One destination's Entity List additions this month and the month before."""

    name: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True, slots=True)
class MonthlyView:
    """Everything the monthly briefing shows (see the module docstring for the rules)."""

    month: Month
    total: int
    by_topic: tuple[TopicCount, ...]
    by_type: tuple[tuple[str, int], ...]
    entity_rules: int
    entity_total: int
    entity_previous: int
    destinations: tuple[DestinationChange, ...]
    deadlines: tuple[Deadline, ...]
    top_items: tuple[Item, ...]

    @property
    def is_empty(self) -> bool:
        return self.total == 0 and not self.deadlines and not self.entity_previous


def build_month(
    items: Iterable[Item],
    month: Month,
    topics: Sequence[TopicConfig],
    *,
    now: datetime,
    feed_tags: Mapping[str, Sequence[str]] | None = None,
) -> MonthlyView:
    """The monthly briefing of `month` from every stored item (see the module docstring)."""
    stored = [item for item in items if item.duplicate_of is None]
    start, end = month.bounds
    in_month = [item for item in stored if start <= _aware(item.when) < end]
    queries = _queries(topics)
    tags = feed_tags or {}
    hits: dict[tuple[str, str], list[str]] = {}
    for item in in_month:
        doc = prepare_doc(item, feed_tags=tags.get(item.feed_id, ()))
        hits[_key(item)] = [t.id for t, q in queries if q.matches(doc, now=now)]
    by_topic = tuple(
        TopicCount(t.id, t.description or t.id, sum(t.id in hits[_key(i)] for i in in_month))
        for t, _ in queries
    )
    additions = entity_list_additions(stored)
    this = _by_destination(r.destinations for r in additions if Month.of(r.when) == month)
    before = _by_destination(
        r.destinations for r in additions if Month.of(r.when) == month.previous
    )
    names = sorted(set(this) | set(before), key=lambda n: (-this[n], -before[n], n))
    return MonthlyView(
        month=month,
        total=len(in_month),
        by_topic=by_topic,
        by_type=_by_type(in_month),
        entity_rules=sum(1 for r in additions if Month.of(r.when) == month),
        entity_total=sum(this.values()),
        entity_previous=sum(before.values()),
        destinations=tuple(DestinationChange(n, this[n], before[n]) for n in names),
        deadlines=tuple(upcoming(stored, *month.next.days)),
        top_items=_top_items(in_month, hits),
    )


def _queries(topics: Sequence[TopicConfig]) -> list[tuple[TopicConfig, Query]]:
    out: list[tuple[TopicConfig, Query]] = []
    for topic in topics:
        try:
            out.append((topic, parse_query(topic.query)))
        except QueryError:
            continue  # check-config reports it; the other topics still count
    return out


def _by_type(items: Sequence[Item]) -> tuple[tuple[str, int], ...]:
    counts = Counter(_type_of(item) for item in items)
    order = [*TYPES, OTHER_TYPE]
    return tuple((kind, counts[kind]) for kind in order if counts[kind])


def _type_of(item: Item) -> str:
    facts = FederalRegisterFacts.of(item.extras)
    return facts.type if facts is not None and facts.type in TYPES else OTHER_TYPE


def _by_destination(rules: Iterable[Sequence[tuple[str, int]]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for destinations in rules:
        for name, count in destinations:
            counts[name] += count
    return counts


def _top_items(
    items: Sequence[Item], hits: Mapping[tuple[str, str], Sequence[str]]
) -> tuple[Item, ...]:
    def importance(item: Item) -> tuple[bool, bool, int, datetime, int]:
        facts = FederalRegisterFacts.of(item.extras)
        return (
            ENTITY_LIST_KEY in item.extras,
            facts is not None and facts.type == "Rule",
            len(hits.get(_key(item), ())),
            _aware(item.when),
            item.seq,
        )

    return tuple(sorted(items, key=importance, reverse=True)[:TOP_ITEMS])


def _key(item: Item) -> tuple[str, str]:
    return (item.feed_id, item.id)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
