"""The template self-check behind `Renderer.check()`: every template compiled and tried out.

Run by `briefbot check-config` and at start-up, so that a broken override is
found then, not at digest time. Each template is rendered with sample data
through each branch the bundled ones have, by a renderer that raises on what it
would otherwise let pass at run time (no blocks, literal markup), and every
message must pass `slacklimits.validate_message`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from bot.brief.ask import Answer, build_answer, understand
from bot.brief.deadlines import Deadline
from bot.brief.monthly import DestinationChange, Month, MonthlyView, TopicCount
from bot.config.model import TopicConfig
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import (
    UTC,
    DigestSection,
    DigestView,
    FeedState,
    Item,
    SlackMessage,
    Subscription,
)
from bot.render.inputs import FeedStatusRow, HomeData, HomeDeadline
from bot.render.slacklimits import validate_message
from bot.render.templates import TEMPLATE_NAMES, Templates

if TYPE_CHECKING:
    from bot.render.renderer import Renderer

__all__ = ["check_templates"]

_Job = Callable[[], list[SlackMessage]]


def check_templates(templates: Templates, strict: Renderer) -> list[str]:
    """The problems of `templates`, as file:line: what; `strict` renders the samples with them."""
    errors: list[str] = []
    if templates.templates_dir and not Path(templates.templates_dir).is_dir():
        errors.append(f"templates_dir {templates.templates_dir}: not a directory")
    broken: set[str] = set()
    for name in TEMPLATE_NAMES:
        try:
            templates.compile(name)
        except jinja2.TemplateSyntaxError as error:
            broken.add(name)
            errors.append(templates.describe(error, name))
        except jinja2.TemplateError as error:
            broken.add(name)
            errors.append(f"{name}: {error}")
    for name, job in _sample_jobs(strict):
        if name in broken:
            continue
        try:
            messages = job()
        except Exception as error:  # any failure of an operator's template is reported
            broken.add(name)
            errors.append(templates.describe(error, name))
            continue
        for number, message in enumerate(messages, 1):
            errors += [
                f"{templates.path_of(name)}: message {number}: {problem}"
                for problem in validate_message(message)
            ]
    return list(dict.fromkeys(errors))


def _sample_jobs(renderer: Renderer) -> list[tuple[str, _Job]]:
    """Every template rendered with sample data, through each branch the bundled ones have."""
    samples = _samples()
    empty = DigestView(channel="C0SAMPLE", date_label="Monday 1 June 2026", sections=())

    def digest(view: DigestView, thread: bool) -> _Job:
        return lambda: renderer.render_digest(view, thread=thread)

    counted = replace(samples.digest, others=(), others_mode="count", summaries=False)
    return [
        ("digest.j2", digest(samples.digest, True)),
        ("digest.j2", digest(counted, True)),
        ("digest.j2", digest(samples.long_digest, True)),
        ("digest.j2", digest(samples.long_digest, False)),
        ("digest.j2", digest(empty, True)),
        (
            "alert.j2",
            lambda: renderer.render_alerts(
                "U0SAMPLE", samples.alerts, more=2, sent_by=["s1", "s2"]
            ),
        ),
        (
            "alert.j2",
            lambda: renderer.render_alerts("C0SAMPLE", samples.alerts[:1], more=0, sent_by=["s1"]),
        ),
        ("search.j2", lambda: renderer.render_search("entity list", samples.hits, 12)),
        ("search.j2", lambda: renderer.render_search("nothing", [], 0)),
        ("help.j2", lambda: renderer.render_help(samples.commands)),
        ("feed_status.j2", lambda: renderer.render_feed_status(samples.feed_rows)),
        ("notice.j2", lambda: renderer.render_notice("Subscribed.")),
        *_tracking_jobs(renderer, samples),
    ]


def _tracking_jobs(renderer: Renderer, samples: _Samples) -> list[tuple[str, _Job]]:
    """The templates of deadlines, months, the Home tab, answers and reminders."""
    return [
        (
            "deadlines.j2",
            lambda: renderer.render_deadlines(
                "entity-list",
                30,
                [("effective", date(2026, 6, 4), samples.alerts[0][0])],
                more=2,
            ),
        ),
        ("deadlines.j2", lambda: renderer.render_deadlines("", 30, [])),
        ("month.j2", lambda: renderer.render_month(samples.month, chart=True)),
        ("month.j2", lambda: renderer.render_month(_empty_month(), chart=False)),
        ("home.j2", lambda: _home(renderer, samples, admin=True)),
        ("home.j2", lambda: _home(renderer, samples, admin=False)),
        *[("answer.j2", _answer_job(renderer, answer)) for answer in samples.answers],
        (
            "reminder.j2",
            lambda: renderer.render_reminders(
                [("comments", date(2026, 6, 8), 7, samples.alerts[0][0], ("topic bis (s1)",))],
                sent_by=[("s1", "reminders 7 and 1 days before a deadline")],
            ),
        ),
        (
            "reminder.j2",
            lambda: renderer.render_reminders(
                [
                    ("comments", date(2026, 6, 2), 1, samples.alerts[0][0], ("topic bis (s1)",)),
                    ("effective", date(2026, 6, 2), 1, samples.alerts[1][0], ("query x (s2)",)),
                ],
                sent_by=[("s1", "a reminder 1 day before a deadline"), ("s2", "x")],
            ),
        ),
    ]


def _home(renderer: Renderer, samples: _Samples, *, admin: bool) -> list[SlackMessage]:
    """The Home tab with every part filled (admin) or empty, as one message to validate."""
    now = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    items = [item for item, _subs in samples.alerts]
    sub = Subscription(
        id="s1", owner="U0SAMPLE", created_by="U0SAMPLE", created_at=now, topic="chips"
    )
    data = HomeData(
        subscriptions=[(sub, "as soon as new items match"), (replace(sub, muted=True), "daily")]
        if admin
        else [],
        more_subscriptions=2 if admin else 0,
        items=items if admin else [],
        deadlines=[HomeDeadline(now.date(), "effective", items[0], "89 FR 1064")] if admin else [],
        feeds=samples.feed_rows,
        is_admin=admin,
        notice="Muted s1 (topic chips)." if admin else "",
    )
    blocks = renderer.render_home(data)
    # A view takes 100 blocks, a message 50: validated in pieces of 50.
    return [SlackMessage(text="home", blocks=blocks[i : i + 50]) for i in range(0, len(blocks), 50)]


def _answer_job(renderer: Renderer, answer: Answer) -> _Job:
    return lambda: renderer.render_answer(answer)


# -- sample data ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SampleHit:
    item: Item
    snippet: str
    spans: Sequence[tuple[int, int]]
    also_in: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Samples:
    digest: DigestView
    long_digest: DigestView
    alerts: list[tuple[Item, tuple[str, ...]]]
    hits: list[_SampleHit]
    commands: list[tuple[str, str]]
    feed_rows: list[FeedStatusRow]
    month: MonthlyView
    answers: list[Answer]


def _samples() -> _Samples:
    now = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    entity = Item(
        id="2026-01234",
        feed_id="fr-bis",
        title="Additions to the Entity List",
        summary="BIS amends the EAR by adding 36 entities to the Entity List.",
        link="https://www.federalregister.gov/d/2026-01234",
        published=now - timedelta(hours=3),
        extras={
            "entity_list": {"summary": "36 entities added: China 30, Japan 1"},
            "also_in": ["fr-entity-list"],
        },
    )
    plain = Item(
        id="n1",
        feed_id="news",
        title="Chip export rules & <!here> what changes",
        summary="",
        link="javascript:alert(1)",
    )
    digest, long_digest = _sample_digests(now, entity, plain)
    return _Samples(
        digest=digest,
        long_digest=long_digest,
        alerts=[(entity, ("topic entity-list", "query BIS")), (plain, ("topic chips",))],
        hits=[_SampleHit(entity, "adding 36 entities to the Entity List", [(26, 37)], ())],
        commands=[("/brief help", "this list"), ("/brief search QUERY", "search what was seen")],
        feed_rows=[
            FeedStatusRow(
                "fr-bis", "Federal Register: BIS", True, FeedState("fr-bis", last_success=now)
            ),
            FeedStatusRow(
                "news",
                "News",
                True,
                FeedState("news", consecutive_failures=3, failing_since=now, last_error="HTTP 503"),
            ),
            FeedStatusRow("old", "Old feed", False, None),
            FeedStatusRow("fresh", "Fresh feed", True, None),
            FeedStatusRow(
                "screening-list",
                "Consolidated Screening List",
                True,
                FeedState("screening-list", last_success=now),
                10_085,
            ),
        ],
        month=_sample_month(entity, plain),
        answers=_sample_answers(now, entity, plain),
    )


def _sample_answers(now: datetime, entity: Item, plain: Item) -> list[Answer]:
    """An answer with every part (a summary too), and one that found nothing."""
    topics = (TopicConfig("entity-list", '"entity list"'), TopicConfig("chips", "chip*"))
    items = [
        replace(
            entity,
            seq=1,
            extras={
                "entity_list": {"action": "additions", "added": 36, "destinations": [["China", 30]]}
            },
        ),
        replace(plain, seq=2, published=now - timedelta(days=1)),
    ]
    found = build_answer(understand("this week", now=now, topics=topics), items, topics=topics)
    nothing = understand("anything on gallium since Monday", now=now, topics=topics)
    return [
        replace(found, summary="Two items: an Entity List rule [1] & chip rules [2]."),
        build_answer(nothing, items, topics=topics),
    ]


def _sample_digests(now: datetime, entity: Item, plain: Item) -> tuple[DigestView, DigestView]:
    """A digest with every part (other new items, summaries), and one too long for a message."""
    long = Item(id="n2", feed_id="news", title="word " * 80, link="https://example.com/x")
    other = Item(
        id="n3",
        feed_id="fr-ofac",
        title="Notice of OFAC Sanctions Actions",
        summary="OFAC is publishing the names of persons placed on the SDN List. " * 5,
        link="https://www.federalregister.gov/d/2026-05678",
        published=now - timedelta(hours=1),
    )
    sections = (
        DigestSection("entity-list", "Entity List", (entity,)),
        DigestSection("chips", "Semiconductors", (plain, long)),
        DigestSection("japan", "Japan economic security", (plain,)),
    )
    many = tuple(
        Item(id=f"m{i}", feed_id="news", title=f"Item {i}", link=f"https://example.com/{i}")
        for i in range(60)
    )
    digest = DigestView(
        channel="C0SAMPLE",
        date_label="Monday 1 June 2026",
        sections=sections,
        more_count=3,
        others=(other, plain),
        others_count=7,
        others_hint="/brief latest others",
        period_label="since Sunday 31 May, 08:30 JST",
        summaries=True,
    )
    long_digest = DigestView(
        channel="C0SAMPLE",
        date_label="Monday 1 June 2026",
        sections=(DigestSection("chips", "Semiconductors", many), *sections),
        more_count=5,
        others=many[:5],
        others_count=40,
        others_hint="/brief latest others 40",
        period_label="since Sunday 31 May, 08:30 JST",
    )
    return digest, long_digest


def _sample_month(entity: Item, plain: Item) -> MonthlyView:
    """A monthly briefing with every part: topics, types, destinations, deadlines, items."""
    return MonthlyView(
        month=Month(2026, 5),
        total=42,
        by_topic=(TopicCount("entity-list", "Entity List", 3), TopicCount("chips", "Chips", 0)),
        by_type=(("Rule", 4), ("Notice", 30), ("Other", 8)),
        entity_rules=2,
        entity_total=40,
        entity_previous=31,
        destinations=tuple(DestinationChange(f"Country {i}", 20 - i, i) for i in range(14)),
        deadlines=tuple(
            Deadline(
                "comments",
                datetime(2026, 6, 1 + i).date(),
                entity,
                FederalRegisterFacts(f"2026-{i:05d}", "Proposed Rule", citation="91 FR 1064"),
            )
            for i in range(17)
        ),
        top_items=(entity, plain),
    )


def _empty_month() -> MonthlyView:
    return MonthlyView(Month(2026, 5), 0, (), (), 0, 0, 0, (), (), ())
