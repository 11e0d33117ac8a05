"""Matching items against subscriptions: who gets which alert, when, and how fast."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.brief.match import MatchProblem, SubscriptionMatcher, compute_due_at, match_items
from bot.config.model import TopicConfig
from bot.config.schema import load_config
from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.ingest.parse import parse_feed
from bot.models import Alert, Item, Subscription
from tests.support import paths

ROOT = paths.ROOT
FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
NOW = datetime(2026, 11, 25, 10, 15, 30, tzinfo=UTC)

# The topics shipped in feeds.yaml, read the way the bot reads them.
CONFIG = load_config(ROOT / "feeds.yaml", env={})
TOPICS: dict[str, TopicConfig] = {t.id: t for t in CONFIG.topics}
FEED_TAGS = {f.id: f.tags for f in CONFIG.feeds}


def sub(sub_id: str, owner: str = "U1", *, topic: str | None = None, **kw: Any) -> Subscription:
    """A subscription; `query=` or `topic=`, defaults otherwise."""
    return Subscription(id=sub_id, owner=owner, created_by=owner, created_at=NOW, topic=topic, **kw)


def item(seq: int, title: str, summary: str = "", **kw: Any) -> Item:
    return Item(
        id=f"d{seq}",
        feed_id=kw.pop("feed_id", "fr-bis"),
        title=title,
        summary=summary,
        seq=seq,
        **kw,
    )


ENTITY = item(1, "Additions to the Entity List", "BIS adds 36 entities in China and Japan.")
RARE = item(2, "China tightens rare earth export licensing", "Gallium and germanium also covered.")
CHIPS = item(3, "TSMC opens a second fab in Kumamoto", "The chipmaker's plant makes 12nm wafers.")
WEATHER = item(4, "Cherry blossoms arrive early in Tokyo", "Parks are full this weekend.")


def triples(alerts: list[Alert]) -> set[tuple[str, int, tuple[str, ...]]]:
    return {(a.owner, a.item_seq, a.subscription_ids) for a in alerts}


MATCH_CASES = [
    pytest.param(
        [sub("s1", topic="entity-list")],
        [ENTITY, RARE],
        {("U1", 1, ("s1",))},
        id="topic-subscription",
    ),
    pytest.param(
        [sub("s1", query='"rare earths" licence OR licensing')],
        [ENTITY, RARE, CHIPS],
        {("U1", 2, ("s1",))},
        id="query-subscription-plural-tolerant",
    ),
    pytest.param([sub("s1", topic="semiconductors")], [WEATHER], set(), id="no-match-no-alert"),
    pytest.param(
        [sub("s1", topic="entity-list")],
        [item(9, "Entity List additions", backlog=True)],
        set(),
        id="backlog-excluded",
    ),
    pytest.param(
        [sub("s1", topic="entity-list", muted=True), sub("s2", "U2", topic="entity-list")],
        [ENTITY],
        {("U2", 1, ("s2",))},
        id="muted-excluded",
    ),
    pytest.param(
        [sub("s1", topic="entity-list")],
        [item(9, "Entity List: 36 more", feed_id="reuters", extras={"duplicate_of": 1})],
        set(),
        id="duplicate-of-excluded",
    ),
    pytest.param(
        [sub("s1", topic="entity-list")],
        [item(9, "Entity List: 36 more", feed_id="reuters", extras={"duplicate_of": None})],
        {("U1", 9, ("s1",))},
        id="empty-duplicate-of-is-not-a-duplicate",
    ),
    pytest.param(
        [
            sub("s1", topic="rare-earths"),
            sub("s2", query="gallium"),
            sub("s9", "U2", query="cherry"),
            sub("s3", query='export* "rare earth"'),
        ],
        [RARE],
        {("U1", 2, ("s1", "s2", "s3"))},
        id="three-of-one-owner-one-alert",
    ),
    pytest.param(
        [sub("s1", topic="semiconductors"), sub("s2", "C0CHANNEL1", query="Kumamoto")],
        [CHIPS],
        {("U1", 3, ("s1",)), ("C0CHANNEL1", 3, ("s2",))},
        id="two-owners-two-alerts",
    ),
    pytest.param(
        [sub("s1", query="feed:fr-bis entity")],
        [ENTITY, item(5, "Entity List news", feed_id="nikkei")],
        {("U1", 1, ("s1",))},
        id="feed-filter",
    ),
    pytest.param(
        [sub("s1", query="tag:entity-list")],
        [ENTITY, item(5, "Anything at all", feed_id="fr-entity-list")],
        {("U1", 5, ("s1",))},
        id="tag-filter-from-feed-tags",
    ),
    pytest.param(
        [sub("s1", query="tag:japan -tag:news")],
        [
            item(5, "One", tags=("Japan",)),
            item(6, "Two", feed_id="economist-asia", tags=("japan",)),
        ],
        {("U1", 5, ("s1",))},
        id="tag-filter-from-item-tags-and-not",
    ),
    pytest.param(
        [sub("s1", query="entity since:2d")],
        [
            item(5, "Entity List", published=NOW - timedelta(days=1)),
            item(6, "Entity List", published=NOW - timedelta(days=3)),
        ],
        {("U1", 5, ("s1",))},
        id="since-counts-back-from-now",
    ),
]


@pytest.mark.parametrize(("subscriptions", "items", "expected"), MATCH_CASES)
def test_who_is_alerted(
    subscriptions: list[Subscription],
    items: list[Item],
    expected: set[tuple[str, int, tuple[str, ...]]],
) -> None:
    alerts = match_items(items, subscriptions, TOPICS, now=NOW, feed_tags=FEED_TAGS)
    assert triples(alerts) == expected
    assert len(alerts) == len(expected), "one alert per (owner, item), never two"
    assert all(a.created_at == NOW for a in alerts)


def test_alerts_come_in_item_order_then_subscription_order() -> None:
    subs = [sub("s1", "U2", query="china"), sub("s2", "U1", query="china OR tsmc")]
    items = [CHIPS, RARE, ENTITY]
    alerts = match_items(items, subs, TOPICS, now=NOW)
    assert [(a.item_seq, a.owner) for a in alerts] == [
        (3, "U1"),
        (2, "U2"),
        (2, "U1"),
        (1, "U2"),
        (1, "U1"),
    ]


# ------------------------------------------------------------------ due times


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


DUE_CASES = [
    # (mode, daily_at, zone, now, expected due, in UTC)
    pytest.param(
        "immediate",
        "09:00",
        "UTC",
        utc(2026, 11, 25, 10, 15, 30),
        utc(2026, 11, 25, 10, 15, 30),
        id="immediate-is-now",
    ),
    pytest.param(
        "hourly",
        "09:00",
        "UTC",
        utc(2026, 11, 25, 10, 15, 30),
        utc(2026, 11, 25, 11),
        id="hourly-next-top-of-hour",
    ),
    pytest.param(
        "hourly",
        "09:00",
        "UTC",
        utc(2026, 11, 25, 10),
        utc(2026, 11, 25, 11),
        id="hourly-at-the-hour-is-the-next-one",
    ),
    pytest.param(
        "hourly",
        "09:00",
        "Asia/Kolkata",
        utc(2026, 11, 25, 10, 15),
        utc(2026, 11, 25, 10, 30),
        id="hourly-in-a-half-hour-zone",
    ),
    pytest.param(
        "hourly",
        "09:00",
        "America/New_York",
        utc(2026, 11, 1, 5, 40),
        utc(2026, 11, 1, 6),
        id="hourly-in-the-repeated-hour-of-fall-back",
    ),
    pytest.param(
        "daily", "09:00", "UTC", utc(2026, 11, 25, 8), utc(2026, 11, 25, 9), id="daily-later-today"
    ),
    pytest.param(
        "daily",
        "09:00",
        "UTC",
        utc(2026, 11, 25, 9),
        utc(2026, 11, 26, 9),
        id="daily-at-the-time-is-tomorrow",
    ),
    pytest.param(
        "daily",
        "08:30",
        "Asia/Tokyo",
        utc(2026, 11, 25, 0),
        utc(2026, 11, 25, 23, 30),
        id="daily-tokyo-tomorrow-morning",
    ),
    # US daylight saving 2026: starts Sun 8 March, ends Sun 1 November.
    pytest.param(
        "daily",
        "09:00",
        "America/New_York",
        utc(2026, 3, 7, 15),
        utc(2026, 3, 8, 13),
        id="new-york-spring-forward-keeps-9am",
    ),
    pytest.param(
        "daily",
        "09:00",
        "America/New_York",
        utc(2026, 10, 31, 14),
        utc(2026, 11, 1, 14),
        id="new-york-fall-back-keeps-9am",
    ),
    pytest.param(
        "daily",
        "02:30",
        "America/New_York",
        utc(2026, 3, 8, 5),
        utc(2026, 3, 8, 7, 30),
        id="new-york-gap-time-moves-forward-to-3-30-edt",
    ),
    pytest.param(
        "daily",
        "02:30",
        "America/New_York",
        utc(2026, 3, 8, 8),
        utc(2026, 3, 9, 6, 30),
        id="new-york-day-after-the-gap-is-2-30-edt",
    ),
    pytest.param(
        "daily",
        "01:30",
        "America/New_York",
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 5, 30),
        id="new-york-repeated-time-is-the-first",
    ),
    # UK summer time 2026: starts Sun 29 March 01:00 GMT, ends Sun 25 October.
    pytest.param(
        "daily",
        "09:00",
        "Europe/London",
        utc(2026, 3, 28, 10),
        utc(2026, 3, 29, 8),
        id="london-spring-forward-keeps-9am",
    ),
    pytest.param(
        "daily",
        "09:00",
        "Europe/London",
        utc(2026, 10, 24, 9, 30),
        utc(2026, 10, 25, 9),
        id="london-fall-back-keeps-9am",
    ),
    pytest.param(
        "daily",
        "01:30",
        "Europe/London",
        utc(2026, 3, 29, 0, 10),
        utc(2026, 3, 29, 1, 30),
        id="london-gap-time-moves-forward-to-2-30-bst",
    ),
]


@pytest.mark.parametrize(("mode", "daily_at", "zone", "now", "expected"), DUE_CASES)
def test_due_at(mode: str, daily_at: str, zone: str, now: datetime, expected: datetime) -> None:
    subscription = sub("s1", query="x", mode=mode, daily_at=daily_at, timezone=zone)
    assert compute_due_at(subscription, now) == expected
    alerts = match_items([item(1, "x")], [subscription], TOPICS, now=now)
    assert [a.due_at for a in alerts] == [expected]


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        pytest.param(("daily", "hourly", "immediate"), NOW, id="immediate-wins"),
        pytest.param(("daily", "hourly"), utc(2026, 11, 25, 11), id="hourly-beats-tomorrow"),
        pytest.param(("hourly", "daily"), utc(2026, 11, 25, 11), id="order-does-not-matter"),
    ],
)
def test_earliest_due_wins_for_one_owner(modes: tuple[str, ...], expected: datetime) -> None:
    subs = [sub(f"s{n}", query="chipmaker", mode=mode) for n, mode in enumerate(modes)]
    (alert,) = match_items([CHIPS], subs, TOPICS, now=NOW)
    assert alert.due_at == expected
    assert alert.subscription_ids == tuple(f"s{n}" for n in range(len(modes)))


# ------------------------------------------------------------------ problems


def test_unusable_subscriptions_are_skipped_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    subs = [
        sub("s1", topic="gone-topic"),
        sub("s2", query="export AND"),
        sub("s3", "U2", query="entity"),
        sub("s4", "U3"),
    ]
    with caplog.at_level(logging.WARNING, logger="bot.brief.match"):
        matcher = SubscriptionMatcher(subs, TOPICS)
    assert matcher.problems == (
        MatchProblem(
            "s1",
            "U1",
            "topic gone-topic no longer exists in feeds.yaml; skipped until "
            "it is defined again or the subscription is removed",
        ),
        MatchProblem(
            "s2", "U1", "its query no longer parses: AND needs a term after it (column 8); skipped"
        ),
        MatchProblem("s4", "U3", "it names neither a topic nor a query; skipped"),
    )
    assert len(matcher) == 1
    assert triples(matcher.match([ENTITY], now=NOW)) == {("U2", 1, ("s3",))}
    logged = [r.getMessage() for r in caplog.records]
    assert "subscription s1 of U1: topic gone-topic no longer exists" in logged[0]
    assert len(logged) == 3


def test_broken_topic_query_names_the_topic() -> None:
    topics = {"bad": TopicConfig(id="bad", query='"unclosed')}
    matcher = SubscriptionMatcher([sub("s1", topic="bad"), sub("s2", topic="bad")], topics)
    assert [str(p) for p in matcher.problems] == [
        f"subscription {s} of U1: topic bad's query no longer parses: unclosed quote at column 1; "
        "skipped"
        for s in ("s1", "s2")
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"mode": "weekly"}, "unknown delivery mode 'weekly'", id="mode"),
        pytest.param({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'", id="zone"),
        pytest.param(
            {"mode": "daily", "daily_at": "9 am"}, "daily time '9 am' is not HH:MM", id="time"
        ),
    ],
)
def test_bad_schedule_still_alerts_immediately(fields: dict[str, str], message: str) -> None:
    matcher = SubscriptionMatcher([sub("s1", query="entity", **fields)], TOPICS)
    assert [p.message for p in matcher.problems] == [f"{message}; its alerts are sent immediately"]
    assert [a.due_at for a in matcher.match([ENTITY], now=NOW)] == [NOW]


def test_item_without_seq_is_refused() -> None:
    with pytest.raises(ValueError, match="item 'x' of feed 'fr-bis' has no seq"):
        match_items(
            [Item(id="x", feed_id="fr-bis", title="Entity List")],
            [sub("s1", topic="entity-list")],
            TOPICS,
            now=NOW,
        )


# ------------------------------------------------------------------ cost

CORPUS = ROOT.parent / "shared" / "feeds-corpus" / "policy"


def real_items() -> list[Item]:
    """Real feed items: the shared policy corpus when present, else the project's fixtures."""
    paths = sorted(CORPUS.glob("*.*")) if CORPUS.is_dir() else []
    if not paths:
        paths = [
            p for p in sorted(FIXTURES.glob("*")) if p.name.startswith(("fr-", "atom", "rss10"))
        ]
    found: list[Item] = []
    for path in paths:
        found.extend(parse_feed(path.stem, path.read_bytes(), fetched_at=NOW).items)
    return [i for i in found if i.title or i.summary]


def workload(kind: str, rng: random.Random) -> tuple[list[Item], list[Subscription]]:
    """1,000 new items and 1,000 subscriptions: a third on the six topics, the rest ad hoc.

    "real": the items are real feed items (recycled if fewer than 1,000) and
    ad-hoc queries use words drawn uniformly from their vocabulary. "dense":
    every item is cut from the same few real texts, so ad-hoc queries hit
    dozens of items each: a worst case for the number of alerts.
    """
    base = real_items()
    feeds = [f.id for f in CONFIG.feeds]
    pool = base if kind == "real" else base[:20]
    words = " ".join(f"{i.title} {i.summary}" for i in pool).split()
    items = []
    for n in range(1000):
        model = pool[n % len(pool)]
        summary = model.summary
        if kind == "dense":
            start = rng.randrange(len(words))
            summary = " ".join(words[start : start + rng.randint(20, 120)])
        items.append(
            Item(
                id=f"b{n}",
                feed_id=rng.choice(feeds),
                title=model.title,
                summary=summary,
                seq=n + 1,
                published=NOW - timedelta(hours=rng.randint(0, 400)),
            )
        )
    vocab = sorted({w.strip(".,;:()\"'“”‘’").lower() for w in words} - {""})
    vocab = [w for w in vocab if len(w) > 3 and w.isalpha()]

    def w() -> str:
        return rng.choice(vocab)

    shapes = [
        lambda: w(),
        lambda: f'"{w()} {w()}"',
        lambda: f"{w()} OR {w()} OR {w()}",
        lambda: f"{w()} -{w()}",
        lambda: f"{w()[:4]}* {w()}",
        lambda: f"feed:{rng.choice(feeds)} {w()}",
        lambda: f"{w()} since:7d",
        lambda: f'({w()} OR "{w()} {w()}") AND NOT tag:news',
    ]
    topic_ids = list(TOPICS)
    subs = []
    for n in range(1000):
        owner = f"U{n % 300:04d}"
        if n % 3 == 0:
            subs.append(sub(f"s{n}", owner, topic=topic_ids[n % len(topic_ids)]))
        else:
            subs.append(
                sub(
                    f"s{n}",
                    owner,
                    query=rng.choice(shapes)(),
                    mode=rng.choice(["immediate", "hourly", "daily"]),
                    timezone=rng.choice(["UTC", "Asia/Tokyo", "America/New_York"]),
                )
            )
    return items, subs


@pytest.mark.parametrize("kind", ["real", "dense"])
def test_thousand_items_by_thousand_subscriptions(kind: str) -> None:
    # Correctness at the scale; the speed is measured in bench/, not asserted here.
    rng = random.Random(3)
    items, subs = workload(kind, rng)
    matcher = SubscriptionMatcher(subs, TOPICS)
    alerts = matcher.match(items, now=NOW, feed_tags=FEED_TAGS)
    assert not matcher.problems
    assert len(alerts) > 300, "the workload must exercise real matches"

    # The same answer as evaluating every subscription on every item, on a sample.
    queries = {s.id: parse_query(TOPICS[s.topic].query if s.topic else s.query or "") for s in subs}
    sample = items[:150]
    expected: dict[tuple[str, int], list[str]] = {}
    for it in sample:
        doc = prepare_doc(it, feed_tags=FEED_TAGS.get(it.feed_id, ()))
        for s in subs:
            if queries[s.id].matches(doc, now=NOW):
                expected.setdefault((s.owner, it.seq), []).append(s.id)
    got = {(a.owner, a.item_seq): list(a.subscription_ids) for a in alerts if a.item_seq <= 150}
    assert got == expected
