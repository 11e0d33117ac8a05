"""Chart data from real BIS abstracts: periods, buckets, one count per rule, top destinations.

The items are built from tests/fixtures/entitylist/real_abstracts.json and
annotated by the real Entity List reader; what each chart must count comes
from the counts written by reading the abstracts (tests/support/recorded.py).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.brief.charts import (
    OTHER,
    ChartData,
    entity_list_chart,
    parse_period,
    topic_chart,
)
from bot.config.model import TopicConfig
from bot.find.query.syntax import QueryError
from bot.ingest.entitylist import annotate_item
from bot.models import Item, replace
from tests.support.recorded import ENTITY_DOCS, added_by_destination

NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def rule_items(step: timedelta = timedelta(days=3)) -> list[Item]:
    """Every recorded Entity List rule, the i-th published i+1 steps before NOW."""
    return [
        annotate_item(
            Item(
                id=doc["document_number"],
                feed_id="fr-bis",
                title=doc["title"],
                summary=doc["abstract"],
                link=doc["html_url"],
                published=NOW - step * (index + 1),
                seq=index + 1,
            )
        )
        for index, doc in enumerate(ENTITY_DOCS)
    ]


def expected(items: list[Item], start: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for item in items:
        if item.when >= start:
            counts.update(added_by_destination(item.id))
    return counts


def all_counts(chart: ChartData) -> int:
    return sum(chart.bucket_totals)


def test_90_days_by_week_count_what_the_abstracts_say() -> None:
    items = rule_items()
    chart = entity_list_chart(items, parse_period("90d", NOW), top=50)

    start = chart.buckets[0].start
    assert start.weekday() == 0 and start <= NOW - timedelta(days=90) < start + timedelta(days=7)
    assert chart.buckets[-1].end > NOW >= chart.buckets[-1].start
    want = expected(items, start)
    assert chart.by_series == dict(want)
    assert chart.total == sum(want.values()) == all_counts(chart)
    assert chart.sources == sum(1 for i in items if i.when >= start and added_by_destination(i.id))
    assert chart.title.startswith("Entity List additions by destination, 90 days to 1 Jun 2026: ")
    assert f"{chart.total} entries in {chart.sources} rules" in chart.title


def test_12_months_by_month_and_the_top_destinations() -> None:
    items = rule_items(step=timedelta(days=14))
    chart = entity_list_chart(items, parse_period("12m", NOW), top=3)

    assert [b.label for b in chart.buckets][:2] == ["Jul 2025", "Aug 2025"]
    assert len(chart.buckets) == 12 and chart.buckets[-1].label == "Jun 2026"
    want = expected(items, datetime(2025, 7, 1, tzinfo=UTC))
    top = [name for name, _ in sorted(want.items(), key=lambda p: (-p[1], p[0]))[:3]]
    assert [s.name for s in chart.series] == [*top, OTHER]
    assert chart.by_series[OTHER] == sum(want.values()) - sum(want[n] for n in top)
    assert chart.total == sum(want.values())


def test_a_repeated_story_and_a_second_copy_of_a_rule_count_once() -> None:
    items = rule_items()
    first = items[0]
    repeat = replace(first, id="again", feed_id="news", seq=900, extras={**first.extras})
    linked = replace(repeat, id="linked", seq=901, extras={**first.extras, "duplicate_of": 1})
    once = entity_list_chart(items, parse_period("90d", NOW))
    twice = entity_list_chart([*items, repeat, linked], parse_period("90d", NOW))

    assert twice.total == once.total and twice.sources == once.sources


def test_a_rule_without_additions_adds_nothing() -> None:
    revisions = [i for i in rule_items() if i.id == "2025-19858"]  # revisions and removals
    assert revisions and "entity_list" in revisions[0].extras
    chart = entity_list_chart(revisions, parse_period("90d", NOW))
    assert chart.is_empty and chart.sources == 0 and chart.series == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [("90", "not a period"), ("0d", "1 to 730 days"), ("25m", "1 to 24 months"), ("x", "90d")],
)
def test_a_wrong_period_says_what_works(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_period(text, NOW)


def test_a_topic_counts_its_items_per_week() -> None:
    items = rule_items(step=timedelta(days=2))
    plain = Item(id="n", feed_id="news", title="Unrelated news", published=NOW - timedelta(days=1))
    topic = TopicConfig("el", '"entity list"', "Entity List")
    chart = topic_chart([*items, plain], topic, parse_period("4w", NOW), now=NOW)

    start = chart.buckets[0].start
    matching = [
        i for i in items if i.when >= start and "entity list" in f"{i.title} {i.summary}".lower()
    ]
    assert chart.total == len(matching) > 0
    assert chart.series[0].name == "el"
    assert chart.title.startswith("Items per week on Entity List, 4 weeks to 1 Jun 2026: ")
    with pytest.raises(QueryError):
        topic_chart(items, TopicConfig("bad", "(unclosed"), parse_period("4w", NOW), now=NOW)
