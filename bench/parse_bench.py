"""Parsing large and hostile documents: `parse_feed` against feedparser alone (issue 12).

Documents from bench/parse_feeds.py: 100,000 small entries (5.3 MB), 10 MB of
HTML articles, and the two hostile ones (a summary of `&lt;a` × 400,000, an
item of 20,000 categories). For each, side by side in this process, the
order rotating per repeat, median of the repeats, in CPU seconds of this
process (every contender runs on this thread; parse_feed with no time limit):

- feedparser: `feedparser.parse(BytesIO(body))`, its defaults (it sanitizes
  HTML and resolves relative links);
- feedparser as called: with sanitizing and link resolution off, as
  bot/ingest/parse.py calls it (the bot runs feedparser's steps with
  parser classes of its own, about a fifth quicker on small entries;
  "feedparser" above is not changed by them);
- parse_feed: the bot's whole parse (charset, feedparser, entries to Items:
  identity, text, dates, links), in this process, no time limit.

The small entries are compared once more with both given the feed's URL (as
a poll gives it; feedparser as Content-Location): every GUID then resolves
to a permalink, so each entry also has a link to canonicalize and identify.

"parse_feed / feedparser" is the cost of the bot's work over feedparser's own.
The hostile documents are parsed by parse_feed only: feedparser alone takes
minutes on the categories (its tag de-duplication is quadratic; parse_feed
caps it), and the angle brackets are a cost of converting HTML to text.
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime

import feedparser

from bench.common import load_average
from bench.parse_feeds import (
    categories_feed,
    html_heavy_feed,
    lt_summary_feed,
    many_entries_feed,
)
from bench.results import ScenarioResult, median
from bot.ingest.parse import parse_feed

__all__ = ["run"]

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FEED_URL = "https://feeds.example.org/feed.xml"


def _timed(func: Callable[[], object]) -> float:
    """CPU seconds of `func` in this process: on shared cores, wall time is mostly others' work."""
    gc.collect()
    started = time.process_time()
    func()
    return time.process_time() - started


def _contenders(body: bytes) -> dict[str, Callable[[], object]]:
    return {
        "feedparser": lambda: feedparser.parse(io.BytesIO(body)),
        "feedparser as called": lambda: feedparser.parse(
            io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False
        ),
        "parse_feed": lambda: parse_feed("bench", body, fetched_at=NOW, time_limit=None),
    }


def _url_contenders(body: bytes) -> dict[str, Callable[[], object]]:
    """Both given the feed's URL, as a poll gives it (the base of relative links)."""
    headers = {"content-location": FEED_URL}
    return {
        "feedparser": lambda: feedparser.parse(io.BytesIO(body), response_headers=headers),
        "parse_feed": lambda: parse_feed(
            "bench", body, url=FEED_URL, fetched_at=NOW, time_limit=None
        ),
    }


def _compare(
    body: bytes, repeats: int, contenders: dict[str, Callable[[], object]] | None = None
) -> dict[str, float]:
    """Median seconds of each contender over `repeats`, the order rotating."""
    contenders = contenders or _contenders(body)
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            times[name].append(_timed(contenders[name]))
    return {name: median(values) for name, values in times.items()}


def run(quick: bool) -> ScenarioResult:
    scale, repeats = (50, 1) if quick else (1, 3)
    result = ScenarioResult("parse", "parsing large and hostile documents", quick)
    articles = html_heavy_feed(10_000_000 // scale)
    large = {
        f"{100_000 // scale:,} entries": many_entries_feed(100_000 // scale),
        f"{len(articles) / 1e6:.1f} MB of HTML articles": articles,
    }
    details: dict[str, object] = {}
    for label, body in large.items():
        medians = _compare(body, repeats)
        ratio = medians["parse_feed"] / medians["feedparser"]
        result.add(
            f"{label}: parse_feed",
            medians["parse_feed"],
            "s",
            note=f"feedparser {medians['feedparser']:.2f} s, as called "
            f"{medians['feedparser as called']:.2f} s",
        )
        result.add(f"{label}: parse_feed / feedparser", ratio, "x")
        details[label] = medians
    # The many small entries again, given the feed's URL: each GUID then resolves to a link.
    label, body = next(iter(large.items()))
    with_url = _compare(body, repeats, _url_contenders(body))
    result.add(
        f"{label}, given the URL: parse_feed / feedparser",
        with_url["parse_feed"] / with_url["feedparser"],
        "x",
        note=f"parse_feed {with_url['parse_feed']:.2f} s, "
        f"feedparser {with_url['feedparser']:.2f} s",
    )
    details[f"{label}, given the URL"] = with_url
    hostile = {
        f"a summary of '&lt;a' x {400_000 // scale:,}": lt_summary_feed(400_000 // scale),
        f"{20_000 // scale:,} categories in one item": categories_feed(20_000 // scale),
    }
    for label, body in hostile.items():
        seconds = median([_timed(_contenders(body)["parse_feed"]) for _ in range(repeats)])
        result.add(f"{label}: parse_feed", seconds, "s")
        details[label] = seconds
    result.notes.append(
        f"CPU seconds, median of {repeats}; feedparser = its defaults (HTML sanitized); "
        "as called = sanitizing and relative-link resolution off, as the bot calls it"
    )
    result.details = {"seconds": details, "load_average": load_average()}
    return result
