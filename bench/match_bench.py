"""Matching 1,000 new items against 1,000 subscriptions (`bot.brief.match.SubscriptionMatcher`).

The subscriptions are what a poll cycle matches against: 40% to the topics of
the project's feeds.yaml (long OR queries), 60% ad-hoc queries as people
type them (words, phrases, OR, NOT, wildcards, feed:/tag:/since: filters),
owned by 250 users and 20 channels. The items are realistic new items from
the recorded feeds (bench/corpus.py), numbered as the store numbers them.
Timed: compiling the matcher, matching, and both together (what
`Runtime.match_new_items` pays per cycle); median of five runs.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from bench.common import load_average, make_subscriptions, repo_topics, timed
from bench.corpus import feed_ids, make_items
from bench.results import ScenarioResult, Target, median
from bot.brief.match import SubscriptionMatcher
from bot.models import Alert

__all__ = ["run"]

FULL = (1000, 1000, 5)  # items, subscriptions, repeats
QUICK = (100, 100, 1)


def run(quick: bool) -> ScenarioResult:
    n_items, n_subs, repeats = QUICK if quick else FULL
    result = ScenarioResult(
        "match", f"matching: {n_items:,} new items x {n_subs:,} subscriptions", quick
    )
    now = datetime.now(UTC)
    feeds = feed_ids(100)
    tags = {feed: ("news",) if n % 3 else ("news", "us") for n, feed in enumerate(feeds)}
    topics = repo_topics()
    subscriptions = make_subscriptions(n_subs, topics=topics, feeds=feeds, now=now)
    items = make_items(
        n_items, seed=3, now=now, feeds=feeds, spread=timedelta(hours=12), tag="m", first_seq=1
    )
    by_topic = {t.id: t for t in topics}
    compile_times: list[float] = []
    match_times: list[float] = []
    total_times: list[float] = []
    alerts: list[Alert] = []

    def match_with(matcher: SubscriptionMatcher) -> list[Alert]:
        return matcher.match(items, now=now, feed_tags=tags)

    for _ in range(repeats):
        matcher, compile_seconds = timed(lambda: SubscriptionMatcher(subscriptions, by_topic))
        alerts, match_seconds = timed(functools.partial(match_with, matcher))
        compile_times.append(compile_seconds)
        match_times.append(match_seconds)
        total_times.append(compile_seconds + match_seconds)
    result.add(
        "compile + match (one cycle's work)",
        median(total_times),
        "s",
        target=Target("<=", 1.0, "under 1 s"),
    )
    result.add("compile the matcher", median(compile_times) * 1000, "ms")
    result.add("match the items", median(match_times) * 1000, "ms")
    result.add("alerts raised", float(len(alerts)), "")
    result.details = {
        "items": n_items,
        "subscriptions": n_subs,
        "topic_subscriptions": sum(1 for s in subscriptions if s.topic),
        "load_average": load_average(),
    }
    return result
