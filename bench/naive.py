"""A naive feed-to-chat bot, written the way many are: the baseline of the poll benchmark.

One cycle takes the feeds one after the other: `feedparser.parse(url)`
(feedparser fetches the URL itself, with urllib: a new connection per feed,
no ETag or Last-Modified, so every feed is downloaded and parsed in full every
time), then every entry whose id it has not seen is inserted into TinyDB with
the stock `JSONStorage`, one `insert` per item. TinyDB's JSONStorage reads and
rewrites the whole JSON file on every insert. Posting to the chat is left out,
as it is for briefbot in the benchmark.

Charitable on one point: the ids already seen are read from the database once
per cycle, into a set. Such bots more often ask TinyDB per entry
(`db.search(Query().id == entry.id)`), which re-reads and re-parses the whole
file for every entry of every feed: with a few thousand items stored, a cycle
over 100 feeds takes minutes, and the comparison would measure TinyDB's file
format more than the bot's design.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
from tinydb import TinyDB

__all__ = ["NaiveCycle", "entry_record", "poll_cycle", "seed_database"]


@dataclass(frozen=True)
class NaiveCycle:
    """What one naive cycle did."""

    feeds: int
    entries: int
    new_items: int
    failed_feeds: int
    seconds: float


def entry_record(feed_url: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The document such a bot keeps per item: its id, where it came from, what it says."""
    return {
        "id": entry.get("id") or entry.get("link") or entry.get("title") or "",
        "feed": feed_url,
        "title": entry.get("title", ""),
        "link": entry.get("link", ""),
        "summary": entry.get("summary", ""),
        "published": entry.get("published", ""),
    }


def seed_database(urls: Sequence[str], path: Path) -> int:
    """The database as one earlier cycle left it: every current entry of `urls`, stored.

    Written with one `insert_multiple` (set-up, not measured: item by item it
    would take minutes). Returns how many items it holds.
    """
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for url in urls:
        parsed = feedparser.parse(url)
        for entry in parsed.entries:
            record = entry_record(url, entry)
            if record["id"] not in seen:
                seen.add(record["id"])
                records.append(record)
    with TinyDB(path) as db:
        db.insert_multiple(records)
    return len(records)


def poll_cycle(urls: Iterable[str], path: Path) -> NaiveCycle:
    """One naive cycle over `urls` against the TinyDB file at `path` (see the module docstring)."""
    started = time.perf_counter()
    feeds = entries = new = failed = 0
    with TinyDB(path) as db:
        seen = {doc.get("id") for doc in db.all()}
        for url in urls:
            feeds += 1
            parsed = feedparser.parse(url)
            if parsed.get("status") not in (200, 301, 302) or not parsed.entries:
                failed += 1
                continue
            for entry in parsed.entries:
                entries += 1
                record = entry_record(url, entry)
                if record["id"] in seen:
                    continue
                db.insert(record)  # JSONStorage: the whole file is read and rewritten
                seen.add(record["id"])
                new += 1
    return NaiveCycle(feeds, entries, new, failed, time.perf_counter() - started)
