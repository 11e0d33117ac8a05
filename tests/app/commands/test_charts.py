"""`/brief chart` and `/brief month` over a store built from recorded Federal Register items.

The store holds real BIS Entity List rules, 37 real documents of the
Federal Register API and one rule repeated by another feed, polled from
loopback feeds (tests/support/recorded.py). `/brief chart` posts through the
real Deliverer to the fake Slack, which receives the image through
files.getUploadURLExternal, the upload and files.completeUploadExternal.
Every expected count is computed here from the fixtures, not by the code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.reports import chart_data
from bot.app.runtime import Runtime
from bot.brief.charts import OTHER
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import CommandRequest
from bot.render.charts import draw_chart
from bot.slack.deliver import Deliverer
from tests.app.commands.cases import CHANNEL, MEMBER, run, slack_client
from tests.render.test_charts import png_size
from tests.support.backends import Backend, BackendKind, fresh_backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.recorded import (
    ENTITY_DOCS,
    FR_DOCS,
    added_by_destination,
    recorded_config,
    store_recorded,
)

NOW = datetime(2024, 2, 10, 9, 0, tzinfo=UTC)
# Four rules in January 2024, eight in December 2023, the rest in November 2023.
DATES = [
    *(datetime(2024, 1, 4 + 7 * i, 15, tzinfo=UTC) for i in range(4)),
    *(datetime(2023, 12, 1 + 3 * i, 15, tzinfo=UTC) for i in range(8)),
    *(datetime(2023, 11, 1 + 2 * i, 15, tzinfo=UTC) for i in range(len(ENTITY_DOCS) - 12)),
]


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory, backend_kind: BackendKind
) -> Iterator[Runtime]:
    server = FeedServer().start()
    try:
        data = tmp_path_factory.mktemp("recorded") / "data"
        with fresh_backend(backend_kind) as backend:
            config = recorded_config(server, data, env=backend.env())
            with Runtime.open(config, clock=lambda: NOW) as runtime:
                store_recorded(runtime, server, DATES)
                yield runtime
    finally:
        server.stop()
    assert not server.errors


@pytest.fixture
def deliverer(fake_slack: FakeSlack) -> Deliverer:
    return Deliverer(slack_client(fake_slack), interval=0.0, backoff=0.05)


def additions_since(start: datetime, end: datetime = NOW) -> Counter[str]:
    counts: Counter[str] = Counter()
    for doc, when in zip(ENTITY_DOCS, DATES, strict=True):
        if start <= when < end:
            counts.update(added_by_destination(doc["document_number"]))
    return counts


# -- /brief chart ----------------------------------------------------------------------


def test_the_entity_list_chart_reaches_the_channel_as_a_png_with_the_stored_counts(
    recorded: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(recorded, "chart entity-list 12m", poster=deliverer)

    (shared,) = fake_slack.files(CHANNEL)
    width, height = png_size(shared.content)
    assert 1000 <= width <= 1600 and 500 <= height <= 900
    assert 10_000 < len(shared.content) < 1_000_000
    want = additions_since(datetime(2023, 3, 1, tzinfo=UTC))
    total = sum(want.values())
    rules = sum(1 for doc in ENTITY_DOCS if added_by_destination(doc["document_number"]))
    title = f"Entity List additions by destination, 12 months to 10 Feb 2024: {total} entries"
    assert shared.title == f"{title} in {rules} rules"
    assert shared.initial_comment == shared.title
    assert shared.filename == "entity-list-12m.png"
    assert "Posted the chart in this channel" in reply and title in reply
    # What was drawn: redraw from the same store and compare the image and its series.
    drawn = draw_chart(chart_data(recorded, "entity-list", "12m"))
    assert drawn.png == shared.content
    assert drawn.data.total == total
    top = sorted(want.items(), key=lambda p: (-p[1], p[0]))[:6]
    assert [(s.name, s.total) for s in drawn.data.series[:6]] == top
    assert drawn.data.by_series[OTHER] == total - sum(n for _, n in top)


def test_90_days_by_week(recorded: Runtime, fake_slack: FakeSlack, deliverer: Deliverer) -> None:
    run(recorded, "chart entity-list", poster=deliverer)

    (shared,) = fake_slack.files(CHANNEL)
    monday = datetime(2023, 11, 6, tzinfo=UTC)  # the week holding 10 Feb 2024 - 90 days
    total = sum(additions_since(monday).values())
    assert f"90 days to 10 Feb 2024: {total} entries" in shared.title


def test_a_topic_chart_counts_its_items(
    recorded: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(recorded, "chart export 12m", poster=deliverer)

    (shared,) = fake_slack.files(CHANNEL)
    texts = [f"{d['title']} {d['abstract'] or ''}" for d in FR_DOCS] + [
        f"{d['title']} {d['abstract']}" for d in ENTITY_DOCS
    ]
    # The query `export` matches the word and its plural (English plurals are folded).
    matching = sum(1 for text in texts if re.search(r"\bexports?\b", text, re.IGNORECASE))
    assert "Items per week on Export controls, 12 months to 10 Feb 2024: " in shared.title
    assert shared.title.endswith(f": {matching} items"), (shared.title, matching)
    assert "Posted the chart" in reply


def test_nothing_to_chart_is_said_in_words_and_nothing_is_posted(
    recorded: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(recorded, "chart entity-list 1w", poster=deliverer)

    assert "No Entity List additions are stored for 1 week to 10 Feb 2024" in reply
    assert "nothing to chart" in reply
    assert fake_slack.files() == [] and fake_slack.calls() == []


def test_a_wrong_chart_or_period_says_what_works(recorded: Runtime, deliverer: Deliverer) -> None:
    reply = run(recorded, "chart tariffs", poster=deliverer)
    assert "no chart 'tariffs'; the charts are entity-list, export\n" in reply
    assert "Usage: /brief chart entity-list|<topic> [90d|12m]" in reply
    assert "is not a period such as 90d" in run(recorded, "chart entity-list soon")
    assert "say which chart" in run(recorded, "chart")


def test_a_channel_the_bot_is_not_in_gets_the_reason(
    recorded: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    fake_slack.add_channel(CHANNEL, member=False)

    reply = run(recorded, "chart entity-list 12m", poster=deliverer)

    assert "The chart was not posted" in reply and "/invite @briefbot" in reply
    assert fake_slack.files() == []


def test_the_console_points_to_the_cli(recorded: Runtime) -> None:
    reply = run(recorded, "chart entity-list 12m")
    assert "briefbot chart entity-list --period 12m --out chart.png" in reply


# -- /brief month ----------------------------------------------------------------------


def month_of(text: str) -> str:
    return text[:7]


def test_the_month_in_numbers(recorded: Runtime) -> None:
    reply = run(recorded, "month 2024-01")

    lines = reply.splitlines()
    january = [d for d in FR_DOCS if month_of(d["publication_date"]) == "2024-01"]
    rules_in_january = sum(1 for when in DATES if (when.year, when.month) == (2024, 1))
    total = len(january) + rules_in_january
    types = Counter(d["type"] for d in january)
    assert lines[0] == "Monthly briefing · January 2024"
    assert lines[1] == (
        f"{total} items: Rule {types['Rule']} · Proposed Rule {types['Proposed Rule']} · "
        f"Notice {types['Notice']} · Presidential Document {types['Presidential Document']} · "
        f"Other {rules_in_january}"
    )
    this = additions_since(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    before = additions_since(datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    change = sum(this.values()) - sum(before.values())
    assert (
        f"Entity List: {sum(this.values())} entries added in {rules_in_january} rules "
        f"({change:+d} against {sum(before.values())} the month before)" in reply
    )
    for name in this:
        assert f"• {name}: {this[name]} ({this[name] - before[name]:+d})" in lines or (
            this[name] == before[name]
        )


def test_the_deadlines_of_the_next_month_each_linked(recorded: Runtime) -> None:
    reply = run(recorded, "month 2024-01")

    expected = sorted(
        (d[field], what, d["title"])
        for d in FR_DOCS
        for field, what in (
            ("comments_close_on", "comments close"),
            ("effective_on", "takes effect"),
        )
        if (d[field] or "").startswith("2024-02")
    )
    assert "Deadlines in February 2024" in reply
    shown = [
        line
        for line in reply.splitlines()
        if ": comments close · " in line or ": takes effect · " in line
    ]
    assert len(shown) == min(len(expected), 24)
    first_day = datetime.fromisoformat(expected[0][0])
    assert shown[0].startswith(f"• {first_day:%a} {first_day.day} Feb: {expected[0][1]} · ")


def test_the_most_important_items_entity_list_first(recorded: Runtime) -> None:
    request = CommandRequest(MEMBER, CHANNEL, "month 2024-01")
    messages = handle_command(recorded, request).messages
    sections = [b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section"]
    start = next(i for i, s in enumerate(sections) if "most important items" in s)
    items = sections[start + 1 : start + 11]
    january_rules = [
        doc["html_url"]
        for doc, when in zip(ENTITY_DOCS, DATES, strict=True)
        if (when.year, when.month) == (2024, 1)
    ]
    assert len(items) == 10
    assert all(any(url in s for url in january_rules) for s in items[: len(january_rules)])
    final_rules = {d["html_url"] for d in FR_DOCS if d["type"] == "Rule"}
    assert all(any(url in s for url in final_rules) for s in items[len(january_rules) :])
    assert all("<https://www.federalregister.gov/" in s for s in items), "each line links"


def test_the_last_full_month_by_default_and_mistakes(recorded: Runtime) -> None:
    assert "Monthly briefing · January 2024" in run(recorded, "month")
    assert "Nothing is stored for March 2023" in run(recorded, "month 2023-03")
    assert "March 2024 has not begun yet" in run(recorded, "month 2024-03")
    assert "'2024-13' is not a month such as 2024-01" in run(recorded, "month 2024-13")


def test_a_correction_is_not_a_second_deadline_in_the_month(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> None:
    """The monthly briefing lists deadlines as /brief deadlines does (bot/brief/deadlines.py):
    a correction's dates are the corrected document's, shown once, not beside it again."""
    rule = next(d for d in FR_DOCS if (d["effective_on"] or "").startswith("2024-02"))
    correction = {
        **rule,
        "document_number": f"C1-{rule['document_number']}",
        "correction_of": rule["document_number"],
        "html_url": rule["html_url"].replace(rule["document_number"], "C1-x"),
        "comments_close_on": None,
    }
    server = FeedServer().start()
    try:
        data = tmp_path_factory.mktemp("correction") / "data"
        config = recorded_config(server, data, env=backend.env())
        entries = [
            Entry(d["title"], d["html_url"], guid=d["document_number"], published=NOW)
            for d in (rule, correction)
        ]
        server.add("/fr-docs.rss", make_rss(entries))
        server.add("/fr-bis.rss", make_rss([]))
        server.add("/bis-news.rss", make_rss([]))
        with Runtime.open(config, clock=lambda: NOW) as runtime:
            runtime.poll(force=True)
            by_number = {d["document_number"]: d for d in (rule, correction)}
            with runtime.store.transaction() as tx:
                for item in list(tx.items.after(0)):
                    facts = FederalRegisterFacts.from_api(by_number[item.guid or ""])
                    extras = {"federal_register": facts.as_extras()}
                    tx.items.update_extras(item.feed_id, item.id, extras)
            reply = run(runtime, "month 2024-01")
    finally:
        server.stop()
    day = datetime.fromisoformat(rule["effective_on"])
    assert reply.count(": takes effect · ") == 1, reply
    assert f"• {day:%a} {day.day} Feb: takes effect · {rule['title']}" in reply
