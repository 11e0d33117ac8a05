"""bot/app/matchers.py: the subscription matcher kept between polls and compiled ahead.

A kept matcher must never answer for subscriptions or topics it was not
compiled from: each case changes one input and checks the alerts that come
out, as the poll's commit would queue them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.matchers import MatcherCache
from bot.app.runtime import Runtime
from bot.brief.match import SubscriptionMatcher
from bot.config.model import TopicConfig
from bot.models import Alert, Subscription
from tests.app.test_runtime import config_for
from tests.brief.test_match import CHIPS, ENTITY, NOW, RARE, TOPICS, sub
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

Subs = list[Subscription]
Topics = Mapping[str, TopicConfig]


def alerted(matcher: SubscriptionMatcher) -> set[tuple[str, int]]:
    alerts: list[Alert] = matcher.match([ENTITY, RARE, CHIPS], now=NOW)
    return {(sub_id, a.item_seq) for a in alerts for sub_id in a.subscription_ids}


def test_the_matcher_is_kept_while_nothing_changed() -> None:
    cache = MatcherCache()
    subs = [sub("s1", topic="entity-list"), sub("s2", query="wafers")]
    first = cache.get(subs, TOPICS)
    # Equal inputs (new lists, copied records): the same matcher, not a new compile.
    again = cache.get([dataclasses.replace(s) for s in subs], dict(TOPICS))
    assert again is first
    assert alerted(again) == {("s1", 1), ("s2", 3)}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            lambda subs, topics: ([*subs, sub("s3", query="gallium")], topics),
            {("s1", 1), ("s2", 3), ("s3", 2)},
            id="a-subscription-added",
        ),
        pytest.param(
            lambda subs, topics: ([subs[0], dataclasses.replace(subs[1], muted=True)], topics),
            {("s1", 1)},
            id="a-subscription-muted",
        ),
        pytest.param(
            lambda subs, topics: (
                subs,
                {**topics, "entity-list": TopicConfig(id="entity-list", query="kumamoto")},
            ),
            {("s1", 3), ("s2", 3)},
            id="a-topic-query-changed",
        ),
    ],
)
def test_a_change_compiles_a_new_matcher(
    change: Callable[[Subs, Topics], tuple[Subs, Topics]],
    expected: set[tuple[str, int]],
) -> None:
    cache = MatcherCache()
    subs = [sub("s1", topic="entity-list"), sub("s2", query="wafers")]
    before = cache.get(subs, TOPICS)
    changed_subs, changed_topics = change(subs, TOPICS)
    after = cache.get(changed_subs, changed_topics)
    assert after is not before
    assert alerted(after) == expected
    assert alerted(before) == {("s1", 1), ("s2", 3)}  # the old one is left as it was


def test_warm_compiles_ahead_once_and_problems_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = MatcherCache()
    subs: list[Subscription] = [sub("s1", topic="entity-list"), sub("s9", topic="gone")]
    with caplog.at_level(logging.WARNING):
        cache.warm(lambda: (subs, TOPICS)).join()
        warmed = [r for r in caplog.records if "s9" in r.getMessage()]
        matcher = cache.get(subs, TOPICS)  # the poll's commit: nothing to compile
    assert [r.threadName for r in warmed] == ["briefbot-matcher"]
    assert [r for r in caplog.records if "s9" in r.getMessage()] == warmed
    assert alerted(matcher) == {("s1", 1)}


def test_a_failed_warm_up_leaves_the_compile_to_the_commit() -> None:
    cache = MatcherCache()
    seen: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:

        def unreadable() -> tuple[list[Subscription], dict[str, TopicConfig]]:
            raise OSError("the store is closed")

        cache.warm(unreadable).join()
    finally:
        threading.excepthook = previous
    assert seen == []  # nothing escaped the thread
    assert alerted(cache.get([sub("s1", topic="entity-list")], TOPICS)) == {("s1", 1)}


def test_polls_alert_by_the_subscriptions_of_their_own_commit(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    # Through Runtime.poll: the matcher is compiled ahead and kept between polls,
    # yet a subscription added or muted between two polls counts from the next one.
    entries = numbered_entries(1, 2)
    feed_server.add("/a.xml", make_rss(entries))
    config = config_for({"a": feed_server.url("/a.xml")}, tmp_path / "data")
    with Runtime.open(config) as runtime:
        runtime.poll(force=True)  # the first poll: backlog, never alerted
        with runtime.store.transaction() as tx:
            tx.subscriptions.put(sub("s1", owner="U1", query="entity"))

        entity = Entry("BIS adds entities to the Entity List", "https://e.test/1", guid="e1")
        feed_server.add("/a.xml", make_rss([entity, *entries]))
        runtime.poll(force=True)
        assert alerted_titles(runtime) == {"U1": ["BIS adds entities to the Entity List"]}

        with runtime.store.transaction() as tx:
            tx.subscriptions.put(
                dataclasses.replace(sub("s1", owner="U1", query="entity"), muted=True)
            )
            tx.subscriptions.put(sub("s2", owner="U2", query="wafers"))
        more = [
            Entry("Entity List grows again", "https://e.test/2", guid="e2"),
            Entry("New wafers plant opens", "https://e.test/3", guid="w1"),
        ]
        feed_server.add("/a.xml", make_rss([*more, entity, *entries]))
        runtime.poll(force=True)
        assert alerted_titles(runtime) == {
            "U1": ["BIS adds entities to the Entity List"],
            "U2": ["New wafers plant opens"],
        }


def alerted_titles(runtime: Runtime) -> dict[str, list[str]]:
    due = runtime.store.alerts.due(datetime.now(UTC) + timedelta(days=1))
    return {
        owner: [item.title for item in runtime.store.items.by_seq(a.item_seq for a in alerts)]
        for owner, alerts in due.items()
    }
