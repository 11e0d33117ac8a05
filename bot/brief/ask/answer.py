"""A question answered from stored items: what was understood, the counts, and their citations.

`understand(text, ...)` reads the period and the subject of a question;
`build_answer(question, items, ...)` counts the items of the period on that
subject: in all, by topic, by feed, the Entity List totals by destination,
and the same subject's count in the previous period of the same length. It
is extractive: every figure is a count of stored items, and every `Line`
cites some of them by number (`Answer.cited`, newest first; the first
`TOP_ITEMS` are the newest items of the period). Nothing is worded from the
items but their titles, which the renderer shows as links.

Not obvious:
- Items are stories: a copy of a story (`Item.duplicate_of`) whose first
  item is counted in the same period is not counted again.
- An item's time is `Item.when` (published, else first seen).
- A line without a citation of its own gets its newest item cited, so each
  line names at least one item it comes from; at most `MAX_LINES` lines per
  group are shown, the rest summed in one line ("3 more feeds").
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.brief.ask.period import DEFAULT_DAYS, Period, read_period
from bot.brief.ask.subjects import Subject, read_subject
from bot.config.model import TopicConfig
from bot.find.query.matcher import Query, QueryMatcher
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.find.search.analysis import prepare_doc_fast
from bot.ingest.entitylist import EXTRAS_KEY, EntityListFacts
from bot.models import UTC, Item, as_utc

__all__ = [
    "MAX_LINES",
    "REFS_PER_LINE",
    "TOP_ITEMS",
    "Answer",
    "Line",
    "Question",
    "build_answer",
    "understand",
    "zone_of",
]

log = logging.getLogger(__name__)

TOP_ITEMS = 5
REFS_PER_LINE = 3
MAX_LINES = 8


@dataclass(frozen=True)
class Question:
    """A question as understood: its words, period (and the one before), subject and zone."""

    text: str
    period: Period
    previous: Period
    subject: Subject
    zone_name: str = "UTC"

    @property
    def understood(self) -> str:
        """The answer's first line: "items from 16–18 November 2026 (this week) on ..."."""
        said = f" ({self.period.phrase})" if self.period.phrase else ""
        if not self.period.phrase:
            said = f" (no period named: the last {DEFAULT_DAYS} days)"
        zone = "" if self.zone_name == "UTC" else f", {self.zone_name} time"
        about = f" on {self.subject.label}" if self.subject.label else ", every subject"
        return f"items from {self.period.label}{said}{zone}{about}"


@dataclass(frozen=True)
class Line:
    """One figure of an answer and the numbers of the cited items it comes from."""

    label: str
    count: int
    refs: tuple[int, ...] = ()

    @property
    def more(self) -> int:
        """How many of the `count` items are not among the cited ones."""
        return max(0, self.count - len(self.refs))


@dataclass(frozen=True)
class Answer:
    """What `build_answer` found; `summary` is the optional language model's prose."""

    question: Question
    total: Line
    previous: Line
    by_topic: tuple[Line, ...]
    by_feed: tuple[Line, ...]
    entity_list: tuple[Line, ...]
    cited: tuple[Item, ...]
    summary: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def change(self) -> int:
        return self.total.count - self.previous.count


def zone_of(name: str | None) -> tuple[tzinfo, str]:
    """The time zone named `name` (an IANA name), UTC when unknown or missing."""
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            log.info("unknown time zone %r for a question: using UTC", name)
    return UTC, "UTC"


def understand(
    text: str, *, now: datetime, topics: Sequence[TopicConfig], zone_name: str | None = None
) -> Question:
    """The period and subject of `text`, relative to `now` in the asker's zone."""
    zone, name = zone_of(zone_name)
    period, rest = read_period(text, now=as_utc(now), zone=zone)
    return Question(text, period, period.previous(zone), read_subject(rest, topics), name)


def compile_topics(topics: Iterable[TopicConfig]) -> dict[str, Query]:
    """Each topic's query parsed (a topic whose query does not parse is left out).

    Parsed once per set of topics (a `Query` is immutable): parsing thirty
    topics took a question about 6 ms of CPU, twice.
    """
    return dict(_compiled(tuple(topics)))


@functools.lru_cache(maxsize=8)
def _compiled(topics: tuple[TopicConfig, ...]) -> tuple[tuple[str, Query], ...]:
    compiled: dict[str, Query] = {}
    for topic in topics:
        try:
            compiled[topic.id] = parse_query(topic.query)
        except QueryError:
            continue
    return tuple(compiled.items())


#: Which of the given seqs match a query (the search index's `matching`), None if it cannot say.
Matching = Callable[[Query, Collection[int]], Collection[int] | None]


@dataclass(frozen=True)
class _Found:
    """The window's items on the subject (None: every one) and on each topic, by seq."""

    subject: set[int] | None
    topics: dict[str, set[int]]


def build_answer(
    question: Question,
    items: Iterable[Item],
    *,
    topics: Sequence[TopicConfig],
    feed_tags: Mapping[str, Sequence[str]] | None = None,
    feed_names: Mapping[str, str] | None = None,
    matching: Matching | None = None,
) -> Answer:
    """Count `items` (any order; those outside both periods are skipped) for `question`.

    `matching` answers which items match a query from an index; without it
    (or when it cannot say) each item of the window is prepared and matched.
    """
    names = feed_names or {}
    topic_queries = compile_topics(topics)
    period, before = question.period, question.previous
    window = [i for i in items if period.holds(as_utc(i.when)) or before.holds(as_utc(i.when))]
    subject = question.subject.queries(topic_queries)
    found = _from_index(matching, window, subject, topic_queries) if matching else None
    if found is None:
        found = _from_docs(window, feed_tags or {}, subject, topic_queries, question)
    current = _stories([i for i in window if period.holds(as_utc(i.when)) and _on(found, i)])
    previous = _stories([i for i in window if before.holds(as_utc(i.when)) and _on(found, i)])
    citer = _Citer(current[:TOP_ITEMS])
    total = citer.line("items", current)
    earlier = citer.line(before.label, previous)
    pairs = [(t.id, i) for i in current for t in topics if i.seq in found.topics.get(t.id, ())]
    by_feed = [(names.get(item.feed_id) or item.feed_id, item) for item in current]
    return Answer(
        question=question,
        total=total,
        previous=earlier,
        by_topic=_grouped(citer, pairs, "topics"),
        by_feed=_grouped(citer, by_feed, "feeds"),
        entity_list=_entity_list(current, citer),
        cited=tuple(citer.cited),
        notes=(),
    )


def _on(found: _Found, item: Item) -> bool:
    return found.subject is None or item.seq in found.subject


def _from_index(
    matching: Matching,
    window: Sequence[Item],
    subject: Sequence[Query],
    topic_queries: Mapping[str, Query],
) -> _Found | None:
    seqs = [item.seq for item in window]
    sets: list[set[int]] = []
    for query in [*subject, *topic_queries.values()]:
        matched = matching(query, seqs)
        if matched is None:
            return None
        sets.append(set(matched))
    on_subject = set().union(*sets[: len(subject)]) if subject else None
    return _Found(on_subject, dict(zip(topic_queries, sets[len(subject) :], strict=True)))


def _from_docs(
    window: Sequence[Item],
    tags: Mapping[str, Sequence[str]],
    subject: Sequence[Query],
    topic_queries: Mapping[str, Query],
    question: Question,
) -> _Found:
    """What `_from_index` finds, by preparing and matching each item of the window."""
    now = question.period.end
    on_subject: set[int] | None = set() if subject else None
    by_topic: dict[str, set[int]] = defaultdict(set)
    matcher = QueryMatcher(topic_queries.items())
    for item in window:
        in_period = question.period.holds(as_utc(item.when))
        if on_subject is None and not in_period:
            continue  # the previous period is only counted
        doc = prepare_doc_fast(item, tags.get(item.feed_id, ()))
        if on_subject is not None:
            if not any(query.matches(doc, now=now) for query in subject):
                continue
            on_subject.add(item.seq)
        if in_period:
            for topic_id in matcher.match(doc, now=now):
                by_topic[topic_id].add(item.seq)
    return _Found(on_subject, dict(by_topic))


def _stories(selected: list[Item]) -> list[Item]:
    """Stories once (a copy whose first item is counted too is dropped), newest first."""
    seqs = {item.seq for item in selected}
    kept = [i for i in selected if i.duplicate_of is None or i.duplicate_of not in seqs]
    kept.sort(key=lambda item: (as_utc(item.when), item.seq), reverse=True)
    return kept


class _Citer:
    """Numbers the items cited (the top items first) and gives each line its references."""

    def __init__(self, top: Sequence[Item]) -> None:
        self.cited: list[Item] = list(top)
        self.number = {item.seq: n for n, item in enumerate(top, 1)}

    def line(self, label: str, items: Sequence[Item]) -> Line:
        """A line counting `items` (newest first), citing up to REFS_PER_LINE of them."""
        refs = [self.number[i.seq] for i in items if i.seq in self.number][:REFS_PER_LINE]
        if not refs and items:
            self.cited.append(items[0])
            self.number[items[0].seq] = len(self.cited)
            refs = [len(self.cited)]
        return Line(label, len(items), tuple(sorted(refs)))


def _grouped(citer: _Citer, pairs: Sequence[tuple[str, Item]], what: str) -> tuple[Line, ...]:
    """A line per group (largest first, at most MAX_LINES, the rest summed in one line)."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for label, item in pairs:
        groups[label].append(item)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    lines = [citer.line(label, members) for label, members in ordered[:MAX_LINES]]
    rest = ordered[MAX_LINES:]
    if rest:
        members = sorted(
            {i.seq: i for _, group in rest for i in group}.values(),
            key=lambda i: (as_utc(i.when), i.seq),
            reverse=True,
        )
        lines.append(citer.line(f"{len(rest)} more {what}", members))
    return tuple(lines)


def _entity_list(current: Sequence[Item], citer: _Citer) -> tuple[Line, ...]:
    """The Entity List rules of the period: one line of totals, then one per destination."""
    ruled: list[tuple[Item, EntityListFacts]] = []
    for item in current:
        data = item.extras.get(EXTRAS_KEY)
        if data is None:
            continue
        try:
            ruled.append((item, EntityListFacts.from_extras(data)))
        except ValueError:
            continue
    if not ruled:
        return ()
    sums: Counter[str] = Counter()
    for _, facts in ruled:
        for key in ("added", "revised", "removed"):
            sums[key] += getattr(facts, key) or 0
        # A rule that does not count entries adds one per entity.
        sums["entries"] += facts.entries if facts.entries is not None else facts.added or 0
    parts = [f"{sums['added']} entities added"] if sums["added"] else []
    if sums["entries"] != sums["added"]:
        parts[:1] = [f"{sums['added']} entities added under {sums['entries']} entries"]
    parts += [f"{sums[k]} {k}" for k in ("revised", "removed") if sums[k]]
    rules = f"{len(ruled)} Entity List rule{'s' if len(ruled) != 1 else ''}"
    label = rules + (": " + ", ".join(parts) if parts else "")
    lines = [citer.line(label, [item for item, _ in ruled])]
    by_place: dict[str, list[Item]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for item, facts in ruled:
        for name, count in facts.destinations:
            counts[name] += count
            by_place[name].append(item)
    ordered = sorted(counts, key=lambda name: (-counts[name], name))
    for name in ordered[:MAX_LINES]:
        line = citer.line(name, by_place[name])
        lines.append(Line(f"{name} {counts[name]}", line.count, line.refs))
    rest = ordered[MAX_LINES:]
    if rest:
        members = list({i.seq: i for name in rest for i in by_place[name]}.values())
        line = citer.line("", members)
        label = f"{len(rest)} more destinations {sum(counts[n] for n in rest)}"
        lines.append(Line(label, line.count, line.refs))
    return tuple(lines)
