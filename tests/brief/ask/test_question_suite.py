"""The question suite: 44 questions in plain words over the recorded store (conftest.py).

Each is answered twice: with the search index saying which items match (as
`briefbot run` answers) and with the answering stage matching item by item.

Each case writes down by hand the period the words must mean (start and end,
in the asker's zone) and the subject (topic ids, or the query the words
make, or everything). The counts are then worked out here, independently of
the answering stage, from the stored items: the items of the period whose
prepared document matches the subject's queries, a copy of a story dropped
when its first item is counted too; the same for the previous period of the
same length; by topic, by feed, and the Entity List figures by destination
summed from each rule's stored facts. The answer must give exactly those,
cite for every line items that line counts, and render within Slack's limits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.brief.ask import Answer, Line, build_answer, understand
from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.ingest.entitylist import EntityListFacts
from bot.models import Item
from bot.render.mrkdwn import mrkdwn_to_plain
from bot.render.renderer import Renderer
from bot.render.slacklimits import validate_message
from bot.store.searchdb.index import FtsIndex
from tests.brief.ask.conftest import NOW, Recorded

UTC = ZoneInfo("UTC")


def at(year: int, month: int, day: int, hour: int = 0, zone: str = "UTC") -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@dataclass(frozen=True)
class Case:
    text: str
    start: datetime
    end: datetime
    topics: tuple[str, ...] = ()
    query: str | None = None
    zone: str | None = None


D = timedelta(days=1)
CASES = [
    # The four examples.
    Case("What's new on IPEF?", NOW - 7 * D, NOW, topics=("ipef",)),
    Case("What did BIS publish this week?", at(2026, 11, 16), NOW, query="BIS"),
    Case("Entity List additions this month by country", at(2026, 11, 1), NOW, ("entity-list",)),
    Case("Anything on Rapidus since Monday?", at(2026, 11, 16), NOW, query="Rapidus"),
    # Named periods.
    Case("what happened today", at(2026, 11, 18), NOW),
    Case("anything yesterday?", at(2026, 11, 17), at(2026, 11, 18)),
    Case("sanctions last week", at(2026, 11, 9), at(2026, 11, 16), ("sanctions",)),
    Case("economic security last month", at(2026, 10, 1), at(2026, 11, 1), ("economic-security",)),
    Case("what's new this year", at(2026, 1, 1), NOW),
    Case("past week", NOW - 7 * D, NOW),
    Case("chips this month", at(2026, 11, 1), NOW, ("semiconductors",)),
    Case("trade actions this month", at(2026, 11, 1), NOW, ("trade-actions",)),
    Case("semiconductor news today", at(2026, 11, 18), NOW, ("semiconductors",)),
    # Rolling spans.
    Case("semiconductors in the last 30 days", NOW - 30 * D, NOW, ("semiconductors",)),
    Case("Entity List rules in the last 3 weeks", NOW - 21 * D, NOW, ("entity-list",)),
    Case("critical minerals last 30 days", NOW - 30 * D, NOW, ("rare-earths",)),
    Case("last 48 hours", NOW - 2 * D, NOW),
    Case("rare earth magnets in the past 2 weeks", NOW - 14 * D, NOW, query="rare earth magnets"),
    Case(
        "sanctions or export controls in the last 10 days",
        NOW - 10 * D,
        NOW,
        ("sanctions", "export-controls"),
    ),
    Case("What did OFAC publish in the past 14 days?", NOW - 14 * D, NOW, query="OFAC"),
    # Since a day or a date.
    Case("What's new on the Entity List since Friday?", at(2026, 11, 13), NOW, ("entity-list",)),
    Case("ipef since last Monday", at(2026, 11, 16), NOW, ("ipef",)),
    Case("rare earths since 1 November", at(2026, 11, 1), NOW, ("rare-earths",)),
    Case("supply chain since 2026-11-05", at(2026, 11, 5), NOW, query="supply chain"),
    Case("anything since Nov 10", at(2026, 11, 10), NOW),
    Case("export controls since November 3rd, 2026", at(2026, 11, 3), NOW, ("export-controls",)),
    Case("wafer since 1 October", at(2026, 10, 1), NOW, query="wafer"),
    # Months, years, days, ranges.
    Case("export controls in October", at(2026, 10, 1), at(2026, 11, 1), ("export-controls",)),
    Case("IPEF in October", at(2026, 10, 1), at(2026, 11, 1), ("ipef",)),
    Case("In November, what happened on the Entity List?", at(2026, 11, 1), NOW, ("entity-list",)),
    Case(
        "Entity List additions in October by destination",
        at(2026, 10, 1),
        at(2026, 11, 1),
        ("entity-list",),
    ),
    Case("anything on palladium in 2026", at(2026, 1, 1), NOW, query="palladium"),
    Case("entity list in December", at(2025, 12, 1), at(2026, 1, 1), ("entity-list",)),
    Case("export controls on 9 November", at(2026, 11, 9), at(2026, 11, 10), ("export-controls",)),
    Case("between 1 and 15 November", at(2026, 11, 1), at(2026, 11, 16)),
    Case(
        "entity list between October 1 and October 31",
        at(2026, 10, 1),
        at(2026, 11, 1),
        ("entity-list",),
    ),
    Case(
        "What did BIS publish between 20 October and 10 November?",
        at(2026, 10, 20),
        at(2026, 11, 11),
        query="BIS",
    ),
    Case(
        "trade remedies from 1 to 10 November",
        at(2026, 11, 1),
        at(2026, 11, 11),
        ("trade-remedies",),
    ),
    # Several topics; words that are no topic; query syntax.
    Case(
        "entity list and sanctions this month", at(2026, 11, 1), NOW, ("entity-list", "sanctions")
    ),
    Case("Chips 4 in November", at(2026, 11, 1), NOW, query="Chips 4"),
    Case(
        '"entity list" OR sanctions* this week',
        at(2026, 11, 16),
        NOW,
        query='"entity list" OR sanctions*',
    ),
    Case("research and development this month", at(2026, 11, 1), NOW, query="research development"),
    # The asker's time zone.
    Case(
        "Entity List today",
        at(2026, 11, 18, zone="Asia/Tokyo"),
        NOW,
        ("entity-list",),
        zone="Asia/Tokyo",
    ),
    Case(
        "What's new since Monday?",
        at(2026, 11, 16, zone="America/Los_Angeles"),
        NOW,
        zone="America/Los_Angeles",
    ),
]


@dataclass
class Expected:
    current: list[Item]
    previous: list[Item]
    by_topic: dict[str, list[Item]]
    by_feed: dict[str, list[Item]]
    destinations: Counter[str]


def expected(recorded: Recorded, case: Case) -> Expected:
    """The answer's figures worked out from the stored items (see the module doc)."""
    tags = {feed.id: feed.tags for feed in recorded.config.feeds}
    topic_queries = {t.id: parse_query(t.query) for t in recorded.config.topics}
    queries = [topic_queries[t] for t in case.topics]
    if case.query is not None:
        queries.append(parse_query(case.query))

    def on_subject(item: Item) -> bool:
        doc = prepare_doc(item, feed_tags=tags[item.feed_id])
        return not queries or any(q.matches(doc, now=case.end) for q in queries)

    def stories(lo: datetime, hi: datetime) -> list[Item]:
        chosen = [i for i in recorded.items if lo <= i.when < hi and on_subject(i)]
        seqs = {i.seq for i in chosen}
        return [i for i in chosen if i.duplicate_of not in seqs]

    current = stories(case.start, case.end)
    by_topic: dict[str, list[Item]] = {}
    for topic_id, query in topic_queries.items():
        matched = [
            i
            for i in current
            if query.matches(prepare_doc(i, feed_tags=tags[i.feed_id]), now=case.end)
        ]
        if matched:
            by_topic[topic_id] = matched
    by_feed: dict[str, list[Item]] = {}
    for item in current:
        by_feed.setdefault(recorded.feed_names[item.feed_id], []).append(item)
    destinations: Counter[str] = Counter()
    for item in current:
        if "entity_list" in item.extras:
            for name, count in EntityListFacts.from_extras(item.extras["entity_list"]).destinations:
                destinations[name] += count
    previous = stories(case.start - (case.end - case.start), case.start)
    return Expected(current, previous, by_topic, by_feed, destinations)


def counts(lines: Sequence[Line]) -> dict[str, int]:
    return {line.label: line.count for line in lines}


def grouped(groups: dict[str, list[Item]], what: str) -> dict[str, int]:
    """Largest first, eight at most, the rest in one line: as an answer shows groups."""
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    shown = {label: len(members) for label, members in ordered[:8]}
    rest = ordered[8:]
    if rest:
        shown[f"{len(rest)} more {what}"] = len({i.seq for _, g in rest for i in g})
    return shown


def cites_its_own(answer: Answer, line: Line, members: Callable[[int], bool]) -> None:
    """Every line with items cites some, and only items it counts (by seq)."""
    assert line.count == 0 or line.refs, f"{line.label}: no citation"
    for ref in line.refs:
        assert 1 <= ref <= len(answer.cited)
        seq = answer.cited[ref - 1].seq
        assert members(seq), f"{line.label}: [{ref}] is not one of its items"


@pytest.fixture(scope="module")
def index(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtsIndex]:
    """The search index over the recorded items, as the runtime keeps one (its file)."""
    directory = tmp_path_factory.mktemp("search-index")
    built = FtsIndex(directory, feed_tags={f.id: f.tags for f in recorded.config.feeds})
    built.add_many(recorded.items)
    yield built
    built.close()


@pytest.mark.parametrize("how", ["index", "items"])
@pytest.mark.parametrize("case", CASES, ids=[c.text for c in CASES])
def test_a_question_is_understood_counted_and_cited(
    recorded: Recorded, index: FtsIndex, case: Case, how: str
) -> None:
    """`how`: matched by the search index (as the runtime does), or item by item."""
    config = recorded.config
    question = understand(case.text, now=NOW, topics=config.topics, zone_name=case.zone)
    assert (question.period.start, question.period.end) == (case.start, case.end)
    assert tuple(t.id for t in question.subject.topics) == case.topics
    assert (question.subject.query.text if question.subject.query else None) == case.query

    answer = build_answer(
        question,
        recorded.items,
        topics=config.topics,
        feed_tags={f.id: f.tags for f in config.feeds},
        feed_names=recorded.feed_names,
        matching=(
            (lambda query, seqs: index.matching(query, seqs, now=case.end))
            if how == "index"
            else None
        ),
    )
    want = expected(recorded, case)
    assert answer.total.count == len(want.current)
    assert answer.previous.count == len(want.previous)
    assert counts(answer.by_topic) == grouped(want.by_topic, "topics")
    assert counts(answer.by_feed) == grouped(want.by_feed, "feeds")
    shown_places = {
        line.label.rsplit(" ", 1)[0]: int(line.label.rsplit(" ", 1)[1])
        for line in answer.entity_list[1:]
        if " more destinations " not in line.label
    }
    assert shown_places == dict(
        sorted(want.destinations.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    )

    rules = [
        EntityListFacts.from_extras(i.extras["entity_list"])
        for i in want.current
        if "entity_list" in i.extras
    ]
    if rules:
        totals = answer.entity_list[0].label
        assert totals.startswith(f"{len(rules)} Entity List rule")
        for what in ("added", "revised", "removed"):
            number = sum(getattr(f, what) or 0 for f in rules)
            shown = f"{number} entities added" if what == "added" else f"{number} {what}"
            assert (shown in totals) == (number > 0), totals
    else:
        assert answer.entity_list == ()
    current = {i.seq for i in want.current}
    ruled = {i.seq for i in want.current if "entity_list" in i.extras}
    cites_its_own(answer, answer.total, current.__contains__)
    cites_its_own(answer, answer.previous, {p.seq for p in want.previous}.__contains__)
    for groups, lines in ((want.by_topic, answer.by_topic), (want.by_feed, answer.by_feed)):
        for line in lines:
            # A "3 more topics" line counts items of the period.
            members = {i.seq for i in groups.get(line.label, want.current)}
            cites_its_own(answer, line, members.__contains__)
    for line in answer.entity_list:
        cites_its_own(answer, line, ruled.__contains__)
    # The first items cited are the period's newest.
    newest = sorted(want.current, key=lambda i: (i.when, i.seq), reverse=True)[:5]
    assert list(answer.cited[: len(newest)]) == newest

    messages = Renderer(feed_names=recorded.feed_names).render_answer(answer)
    for message in messages:
        assert validate_message(message) == []
    first = mrkdwn_to_plain(messages[0].blocks[0]["text"]["text"]).split("\n")[0].replace("*", "")
    number = f"{len(want.current)} item" if want.current else "No items"
    assert first.startswith(number)
    assert f"items from {question.period.label}" in first
