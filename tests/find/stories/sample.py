"""Feed items for the same-story tests: the bundled demo feeds, the shared corpus, made-up news.

Tests that need the corpus skip without it (`needs_corpus`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.find.stories.index import StoryIndex, StoryMatch
from bot.ingest.parse import parse_feed
from bot.models import Item, replace
from tests.support import paths

ROOT = paths.ROOT
DEMO = ROOT / "bot" / "demo_feeds"
CORPUS = paths.CORPUS
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feed corpus not at {CORPUS}")
FETCHED_AT = datetime(2027, 1, 1, tzinfo=UTC)
DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# A real headline that several tests build look-alikes of.
CHINA_ADDS = "China adds 14 EU entities to export control list over Russia-related sanctions"

# The document numbers both demo feeds carry (bot/demo_feeds/README.md).
SHARED_DEMO_DOCUMENTS = {
    "2025-19858",
    "2025-17893",
    "2025-00480",
    "2025-00704",
    "2025-05426",
    "2024-31468",
}


@functools.cache
def _parse(path: Path, feed_id: str) -> tuple[Item, ...]:
    result = parse_feed(feed_id, path.read_bytes(), fetched_at=FETCHED_AT, time_limit=None)
    assert result.error is None, f"{path.name}: {result.error}"
    return result.items


def demo_items(name: str, feed_id: str) -> list[Item]:
    return list(_parse(DEMO / name, feed_id))


def corpus_items(name: str, feed_id: str | None = None) -> list[Item]:
    """Items of a corpus file ("policy/x.rss20.xml"); feed id: the file name."""
    return list(_parse(CORPUS / name, feed_id or Path(name).name))


def find(items: Iterable[Item], title_start: str) -> Item:
    found = [item for item in items if item.title.startswith(title_start)]
    assert len(found) == 1, f"{len(found)} items titled {title_start!r}..."
    return found[0]


def numbered(items: Iterable[Item], start: int = 1) -> list[Item]:
    """The items as the store hands them over: each with its own seq."""
    return [replace(item, seq=seq) for seq, item in enumerate(items, start=start)]


def news(feed_id: str, title: str, *, link: str, when: datetime = DAY, seq: int = 0) -> Item:
    """A news item as parse makes it (id from the GUID, which is the link)."""
    return Item(id=f"guid:{link}", feed_id=feed_id, title=title, link=link, published=when, seq=seq)


def add_all(index: StoryIndex, items: Iterable[Item]) -> list[tuple[Item, StoryMatch]]:
    """Add each item; return the (item, match) pairs of the items that matched."""
    matches = []
    for item in items:
        match = index.add(item)
        if match is not None:
            matches.append((item, match))
    return matches


def link_pair(first: Item, second: Item) -> StoryMatch | None:
    """What a fresh index says about `second` once `first` is indexed."""
    index = StoryIndex()
    assert index.add(replace(first, seq=1)) is None
    return index.add(replace(second, seq=2))
