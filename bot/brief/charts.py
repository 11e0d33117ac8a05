"""What a chart shows, as typed series: Entity List additions by destination, a topic's items.

Pure: the caller reads the items from the store and gets back a `ChartData`
(buckets of time, one `Series` per stack of bars), which `bot.render.charts`
draws and tests count. Nothing here imports matplotlib.

- A period (`parse_period`: "90d", "12w", "12m") ends now and starts at the
  beginning of the week (Monday, UTC) or month holding its first day, so
  every bucket is whole but the current one, and the period's total is
  exactly the sum of its buckets. Days and weeks chart by week, months by
  month for the Entity List; a topic's chart is always by week.
- Entity List additions are counted as BIS counts them per destination
  (entries: `EntityListFacts.destinations`); a rule that adds entries
  without naming destinations counts its entries (else its entities) under
  `NOT_STATED`. A rule with no additions (only revisions or removals) adds
  nothing.
- One count per rule: an item linked as a repeat of a stored story
  (`Item.duplicate_of`) is left out, and so is a second item carrying the
  same Federal Register document number (two feeds that both carry a rule
  before the story link was made).
- The largest `top` destinations over the period get a series each, the
  rest are summed into `OTHER`; the drawn totals therefore equal the counts.
- Items without a time zone are taken to be UTC, as everywhere else.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.config.model import TopicConfig
from bot.daynames import MONTHS, MONTHS_SHORT
from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.ingest.entitylist import EXTRAS_KEY as ENTITY_LIST_KEY
from bot.ingest.entitylist import EntityListFacts
from bot.ingest.fedreg.facts import FederalRegisterFacts, document_number_in
from bot.models import Item

__all__ = [
    "DEFAULT_PERIOD",
    "DEFAULT_TOP",
    "ENTITY_LIST_CHART",
    "NOT_STATED",
    "OTHER",
    "Bucket",
    "ChartData",
    "Period",
    "RuleAdditions",
    "Series",
    "entity_list_additions",
    "entity_list_chart",
    "month_bounds",
    "month_period",
    "parse_period",
    "rule_key",
    "topic_chart",
]

ENTITY_LIST_CHART = "entity-list"
DEFAULT_PERIOD = "90d"
DEFAULT_TOP = 6
OTHER = "Other"
NOT_STATED = "Not stated"
_PERIOD = re.compile(r"([0-9]{1,3})\s*([dwm])")
# The longest periods: two years, in each unit.
_LIMITS = {"d": 730, "w": 104, "m": 24}
_UNIT_WORDS = {"d": "day", "w": "week", "m": "month"}


Unit = Literal["week", "month"]


@dataclass(frozen=True, slots=True)
class Period:
    """The time a chart covers: [start, end), cut into buckets of `unit`."""

    text: str  # as asked: "90d"; a calendar month's is "2024-01"
    start: datetime
    end: datetime
    unit: Unit
    name: str = ""  # a calendar month's: "January 2024"

    @property
    def label(self) -> str:
        """ "90 days to 1 Jun 2026" (or the month's name): what the title says."""
        if self.name:
            return self.name
        count, unit = int(self.text[:-1]), _UNIT_WORDS[self.text[-1]]
        return f"{count} {unit}{'' if count == 1 else 's'} to {_day(self.end)}"

    def buckets(self, unit: Unit | None = None) -> tuple[Bucket, ...]:
        """Consecutive buckets of `unit` (default the period's) from `start` to `end`."""
        unit = unit or self.unit
        out: list[Bucket] = []
        moment = _bucket_start(self.start, unit)
        while moment < self.end:
            following = _next_bucket(moment, unit)
            label = _day(moment, year=False) if unit == "week" else _month(moment)
            out.append(Bucket(moment, following, label))
            moment = following
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar's time: [start, end), and its axis label ("3 Mar", "Mar 2026")."""

    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True, slots=True)
class Series:
    """One stack of the bars: a name and one count per bucket."""

    name: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything a chart draws: its buckets, its series (stacked, in order) and what it counts.

    `unit` is what one count is ("entry", "item"); `sources` how many of
    `source_unit` ("rule", "item") were counted.
    """

    kind: str
    subject: str
    period: Period
    buckets: tuple[Bucket, ...]
    series: tuple[Series, ...]
    unit: str
    sources: int
    source_unit: str
    per: Unit  # each bucket's length

    @property
    def total(self) -> int:
        return sum(series.total for series in self.series)

    @property
    def bucket_totals(self) -> tuple[int, ...]:
        """The height of each bar (every series of one bucket)."""
        return tuple(sum(counts) for counts in zip(*(s.counts for s in self.series), strict=True))

    @property
    def by_series(self) -> dict[str, int]:
        return {series.name: series.total for series in self.series}

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def title(self) -> str:
        """ "Entity List additions by destination, 90 days to 1 Jun 2026: 84 entries in 5 rules"."""
        counted = _counted(self.total, self.unit)
        if self.source_unit != self.unit:
            counted += f" in {_counted(self.sources, self.source_unit)}"
        return f"{self.subject}, {self.period.label}: {counted}"


@dataclass(frozen=True, slots=True)
class RuleAdditions:
    """One Entity List rule's additions, per destination (entries, as BIS counts them)."""

    item: Item
    when: datetime
    destinations: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return sum(count for _, count in self.destinations)


def parse_period(text: str, now: datetime) -> Period:
    """ "90d", "12w" or "12m" ending at `now`; ValueError saying what is wrong.

    Days and weeks chart by week, months by month; the start is moved back to
    the start of its week or month so that every bucket is whole.
    """
    found = _PERIOD.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(f"{text!r} is not a period such as 90d, 12w or 12m")
    count, unit = int(found[1]), found[2]
    if not 1 <= count <= _LIMITS[unit]:
        raise ValueError(f"a period is 1 to {_LIMITS[unit]} {_UNIT_WORDS[unit]}s, not {count}")
    end = _aware(now)
    if unit == "m":
        start = _add_months(_bucket_start(end, "month"), -(count - 1))
        return Period(f"{count}m", start, end, "month")
    days = count * (7 if unit == "w" else 1)
    return Period(f"{count}{unit}", _bucket_start(end - timedelta(days=days), "week"), end, "week")


def month_period(year: int, month: int) -> Period:
    """A calendar month (UTC) by week: what the monthly briefing's chart covers."""
    start, end = month_bounds(year, month)
    return Period(f"{year:04d}-{month:02d}", start, end, "week", f"{MONTHS[month - 1]} {year}")


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of a calendar month, UTC."""
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, _add_months(start, 1)


def rule_key(item: Item) -> str:
    """What tells one Federal Register document: its number, else the feed and item id."""
    facts = FederalRegisterFacts.of(item.extras)
    number = facts.document_number if facts is not None else None
    number = number or document_number_in(item.link or "") or document_number_in(item.guid or "")
    return f"fr:{number}" if number else f"item:{item.feed_id}:{item.id}"


def entity_list_additions(items: Iterable[Item]) -> list[RuleAdditions]:
    """Each Entity List rule that adds entries, once (see the module docstring), oldest first."""
    seen: set[str] = set()
    out: list[RuleAdditions] = []
    for item in sorted(items, key=lambda i: (_aware(i.when), i.seq)):
        if item.duplicate_of is not None or ENTITY_LIST_KEY not in item.extras:
            continue
        try:
            facts = EntityListFacts.from_extras(item.extras[ENTITY_LIST_KEY])
        except ValueError:
            continue
        destinations = _added_by_destination(facts)
        key = rule_key(item)
        if not destinations or key in seen:
            continue
        seen.add(key)
        out.append(RuleAdditions(item, _aware(item.when), destinations))
    return out


def entity_list_chart(
    items: Iterable[Item], period: Period, *, top: int = DEFAULT_TOP
) -> ChartData:
    """Entity List additions by destination per bucket of `period`: the largest `top`, the rest
    as `OTHER`."""
    rules = [r for r in entity_list_additions(items) if period.start <= r.when < period.end]
    buckets = period.buckets()
    per_name: dict[str, list[int]] = {}
    for rule in rules:
        index = _bucket_index(buckets, rule.when)
        for name, count in rule.destinations:
            per_name.setdefault(name, [0] * len(buckets))[index] += count
    return ChartData(
        kind=ENTITY_LIST_CHART,
        subject="Entity List additions by destination",
        period=period,
        buckets=buckets,
        series=_top_series(per_name, top, len(buckets)),
        unit="entry",
        sources=len(rules),
        source_unit="rule",
        per=period.unit,
    )


def topic_chart(
    items: Iterable[Item],
    topic: TopicConfig,
    period: Period,
    *,
    now: datetime,
    feed_tags: Mapping[str, Sequence[str]] | None = None,
) -> ChartData:
    """Items per week matching `topic`'s query over `period`, one count per story (duplicates
    left out); raises `QueryError` when the topic's query does not parse."""
    query = parse_query(topic.query)
    tags = feed_tags or {}
    buckets = period.buckets("week")
    counts = [0] * len(buckets)
    matched = 0
    for item in items:
        when = _aware(item.when)
        if item.duplicate_of is not None or not buckets[0].start <= when < period.end:
            continue
        if query.matches(prepare_doc(item, feed_tags=tags.get(item.feed_id, ())), now=now):
            counts[_bucket_index(buckets, when)] += 1
            matched += 1
    return ChartData(
        kind=topic.id,
        subject=f"Items per week on {topic.description or topic.id}",
        period=period,
        buckets=buckets,
        series=(Series(topic.id, tuple(counts)),),
        unit="item",
        sources=matched,
        source_unit="item",
        per="week",
    )


def _added_by_destination(facts: EntityListFacts) -> tuple[tuple[str, int], ...]:
    """The entries a rule adds per destination; without destinations, all under NOT_STATED."""
    adds = facts.added is not None or facts.entries is not None or "addition" in facts.action
    if not adds:
        return ()
    listed = tuple((name, count) for name, count in facts.destinations if count > 0)
    if listed:
        return listed
    number = facts.entries if facts.entries is not None else facts.added
    return ((NOT_STATED, number),) if number else ()


def _top_series(per_name: Mapping[str, list[int]], top: int, width: int) -> tuple[Series, ...]:
    ranked = sorted(per_name.items(), key=lambda pair: (-sum(pair[1]), pair[0]))
    # Folding one destination into "Other" would only rename it.
    keep = ranked if len(ranked) <= top + 1 else ranked[:top]
    series = [Series(name, tuple(counts)) for name, counts in keep]
    rest = ranked[len(keep) :]
    if rest:
        summed = Counter[int]()
        for _, counts in rest:
            summed.update(dict(enumerate(counts)))
        series.append(Series(OTHER, tuple(summed[i] for i in range(width))))
    return tuple(series)


def _bucket_index(buckets: Sequence[Bucket], when: datetime) -> int:
    for index in range(len(buckets) - 1, -1, -1):
        if buckets[index].start <= when:
            return index
    return 0


def _bucket_start(moment: datetime, unit: Unit) -> datetime:
    day = _aware(moment).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _next_bucket(moment: datetime, unit: Unit) -> datetime:
    return _add_months(moment, 1) if unit == "month" else moment + timedelta(days=7)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def _counted(number: int, word: str) -> str:
    """ "1 entry", "2 entries", "3 rules"."""
    if number == 1:
        return f"{number} {word}"
    return f"{number} {word[:-1]}ies" if word.endswith("y") else f"{number} {word}s"


def _day(moment: datetime, *, year: bool = True) -> str:
    text = f"{moment.day} {MONTHS_SHORT[moment.month - 1]}"
    return f"{text} {moment.year}" if year else text


def _month(moment: datetime) -> str:
    return f"{MONTHS_SHORT[moment.month - 1]} {moment.year}"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
