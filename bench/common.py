"""Pieces several scenarios share: configurations, subscriptions, queries, memory, time.

Configurations are written as feeds.yaml text and read by the bot's own
parser (so every feed really passes validation, `allow_private: true`
included for loopback), with the topics of the project's feeds.yaml.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import re
import resource
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from bench.corpus import ROOT, real_items
from bot.config.model import Config, TopicConfig
from bot.config.schema import load_config, parse_config_text
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.models import Subscription

__all__ = [
    "BENCH_SETTINGS",
    "load_average",
    "make_config",
    "make_subscriptions",
    "max_rss_mb",
    "repo_topics",
    "rss_mb",
    "subscription_queries",
    "timed",
]

T = TypeVar("T")

# Settings the benchmark configurations share; everything else is the default.
BENCH_SETTINGS = "  connect_timeout: 10s\n  read_timeout: 30s\n  total_timeout: 1m\n"


def repo_topics() -> tuple[TopicConfig, ...]:
    """The topics of the project's feeds.yaml."""
    return load_config(ROOT / "feeds.yaml", env={}).topics


def make_config(
    feeds: Sequence[tuple[str, str]],
    data_dir: Path,
    *,
    tags: Callable[[int], Sequence[str]] = lambda n: ("news",),
    private: bool = True,
) -> Config:
    """A configuration of `feeds` ((id, url) pairs), the repository's topics, and `data_dir`."""
    lines = ["settings:", f"  data_dir: {data_dir}", BENCH_SETTINGS.rstrip("\n"), "feeds:"]
    for n, (feed_id, url) in enumerate(feeds):
        lines += [f"  - id: {feed_id}", f"    url: {url}", f"    tags: [{', '.join(tags(n))}]"]
        if private:
            lines.append("    allow_private: true")
    config = parse_config_text("\n".join(lines) + "\n", "bench-feeds.yaml", env={})
    return dataclasses.replace(config, topics=repo_topics())


_WORD_RE = re.compile(r"[A-Za-z][a-z]{4,}")


def subscription_queries(count: int, *, seed: int, feeds: Sequence[str]) -> list[str]:
    """`count` distinct ad-hoc queries, as users type them, from real title vocabulary.

    Words, phrases (real adjacent title words), OR, NOT, wildcards, and the
    feed:, tag: and since: filters. Each one parses.
    """
    rng = random.Random(seed)
    titles = [item.title for item in real_items()]
    counts: dict[str, int] = {}
    for title in titles:
        for word in _WORD_RE.findall(title):
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
    vocab = sorted(counts, key=lambda w: (-counts[w], w))[:600]
    phrases = sorted(
        {
            f"{a} {b}".lower()
            for title in titles
            for a, b in zip(title.split(), title.split()[1:], strict=False)
            if _WORD_RE.fullmatch(a) and _WORD_RE.fullmatch(b)
        }
    )
    patterns: list[Callable[[], str]] = [
        lambda: rng.choice(vocab),
        lambda: f'"{rng.choice(phrases)}"',
        lambda: f"{rng.choice(vocab)} OR {rng.choice(vocab)}",
        lambda: f"{rng.choice(vocab)} -{rng.choice(vocab)}",
        lambda: f"{rng.choice(vocab)[:5]}* tag:news",
        lambda: f"feed:{rng.choice(feeds)} {rng.choice(vocab)}",
        lambda: f"({rng.choice(vocab)} OR {rng.choice(vocab)}) {rng.choice(vocab)}",
        lambda: f"{rng.choice(vocab)} since:7d",
        lambda: f'"{rng.choice(phrases)}" OR {rng.choice(vocab)}',
    ]
    queries: list[str] = []
    seen: set[str] = set()
    while len(queries) < count:
        text = rng.choice(patterns)()
        if text in seen:
            continue
        try:
            parse_query(text)
        except QueryError:
            continue
        seen.add(text)
        queries.append(text)
    return queries


def make_subscriptions(
    count: int,
    *,
    topics: Sequence[TopicConfig],
    feeds: Sequence[str],
    now: datetime,
    seed: int = 11,
    topic_share: float = 0.4,
) -> list[Subscription]:
    """`count` subscriptions: `topic_share` to the topics, the rest ad-hoc queries.

    Owners are 250 users and 20 channels; modes are mostly immediate, some
    hourly or daily, as people pick them.
    """
    rng = random.Random(seed)
    n_topics = round(count * topic_share) if topics else 0
    queries = subscription_queries(count - n_topics, seed=seed, feeds=feeds)
    owners = [f"U{n:08d}" for n in range(250)] + [f"C{n:08d}" for n in range(20)]
    subs: list[Subscription] = []
    for n in range(count):
        mode = rng.choices(("immediate", "hourly", "daily"), weights=(6, 2, 2))[0]
        owner = owners[rng.randrange(len(owners))]
        subs.append(
            Subscription(
                id=f"s{n:05d}",
                owner=owner,
                created_by=owner if owner.startswith("U") else "U00000000",
                created_at=now,
                topic=topics[n % len(topics)].id if n < n_topics else None,
                query=None if n < n_topics else queries[n - n_topics],
                mode=mode,
                daily_at="09:00",
                timezone=rng.choice(("UTC", "Asia/Tokyo", "America/New_York", "Europe/Brussels")),
            )
        )
    return subs


def rss_mb() -> float:
    """This process's resident set now, in MB (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def max_rss_mb() -> float:
    """This process's peak resident set so far, in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> float | None:
    """The 1-minute load average: how busy the (shared) machine was."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def timed(func: Callable[[], T]) -> tuple[T, float]:
    """Call `func` after a garbage collection; return its result and its wall-clock seconds."""
    gc.collect()
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started
