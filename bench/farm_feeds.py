"""The feed farm's feeds: their current bodies and ETags, changed on request.

Feed N is recorded file N mod (number of files), rewritten by
bench/farm_rewrite.py. `advance(share, seed)` makes a share of the feeds
change "since the last poll": each gets 1 to 5 new items prepended, and a new
ETag. The choice is stratified: every block of 100 consecutive feeds gets the
same number of changes, so a client polling the first 100 feeds sees the same
share as one polling all of them. `reset()` goes back to the unchanged feeds.

Bodies are gzip-compressed when they change, not when served, so serving
costs almost no CPU.
"""

from __future__ import annotations

import gzip
import random
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.corpus import FeedFile
from bench.farm_rewrite import ENTRY_RE, title_vocabulary, vary_entry, vary_feed

__all__ = ["MAX_NEW_ITEMS", "STRATUM", "FarmFeeds"]

# Largest number of new items one change prepends.
MAX_NEW_ITEMS = 5
# Changes are spread evenly over blocks of this many consecutive feeds.
STRATUM = 100


@dataclass
class _Feed:
    base: bytes  # the varied recorded feed
    content_type: str
    version: int = 0
    # New items by version (1, 2, ...), each a list of entry blocks.
    added: list[bytes] = field(default_factory=list)
    body: bytes = b""
    gzipped: bytes = b""
    etag: str = ""


class FarmFeeds:
    """The feeds' contents and versions; thread-safe. Serving reads `current(n)`."""

    def __init__(
        self, count: int, files: Sequence[FeedFile], *, now: datetime | None = None
    ) -> None:
        if count < 1:
            raise ValueError(f"a feed farm needs at least one feed, not {count}")
        if not files:
            raise ValueError("a feed farm needs at least one recorded feed file")
        self._lock = threading.Lock()
        self._now = now or datetime.now(UTC).replace(microsecond=0)
        self._vocabulary = title_vocabulary(files)
        self._feeds: list[_Feed] = []
        self.sources: list[str] = []
        for n in range(count):
            source = files[n % len(files)]
            feed = _Feed(vary_feed(source.body, n, self._vocabulary), source.content_type)
            self._render(n, feed)
            self._feeds.append(feed)
            self.sources.append(source.name)
        self.changes = 0

    def __len__(self) -> int:
        return len(self._feeds)

    def _render(self, index: int, feed: _Feed) -> None:
        body = feed.base
        if feed.version:
            first = ENTRY_RE.search(body)
            at = first.start() if first else body.rfind(b"</channel>")
            if at < 0:
                at = body.rfind(b"</feed>")
            newest_first = b"".join(reversed(feed.added))
            body = body[:at] + newest_first + body[at:]
        feed.body = body
        feed.gzipped = gzip.compress(body, compresslevel=5, mtime=0)
        feed.etag = f'"{index}-{feed.version}-{zlib.crc32(body):08x}"'

    def current(self, index: int) -> tuple[str, bytes, bytes, str]:
        """(ETag, body, gzipped body, content type) of feed `index`; KeyError if none."""
        if not 0 <= index < len(self._feeds):
            raise KeyError(index)
        with self._lock:
            feed = self._feeds[index]
            return feed.etag, feed.body, feed.gzipped, feed.content_type

    def changed_feeds(self, share: float, seed: int) -> list[int]:
        """Which feeds a change of `share` touches: the same count in every block of 100."""
        rng = random.Random(seed)
        chosen: list[int] = []
        for start in range(0, len(self._feeds), STRATUM):
            block = range(start, min(start + STRATUM, len(self._feeds)))
            take = round(share * len(block))
            chosen.extend(sorted(rng.sample(block, take)))
        return chosen

    def advance(self, share: float, seed: int) -> dict[int, int]:
        """Prepend new items to a `share` of the feeds; return {feed index: items added}."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be between 0 and 1, not {share}")
        rng = random.Random(seed * 7919 + 1)
        added: dict[int, int] = {}
        with self._lock:
            for index in self.changed_feeds(share, seed):
                feed = self._feeds[index]
                first = ENTRY_RE.search(feed.base)
                if first is None:
                    continue
                feed.version += 1
                count = rng.randint(1, MAX_NEW_ITEMS)
                feed.added.append(
                    b"".join(
                        vary_entry(
                            first.group(0),
                            feed=index,
                            version=feed.version,
                            number=k,
                            vocabulary=self._vocabulary,
                            now=self._now,
                        )
                        for k in range(count)
                    )
                )
                self._render(index, feed)
                added[index] = count
            self.changes += 1
        return added

    def reset(self) -> None:
        """Back to the unchanged feeds (version 0 everywhere)."""
        with self._lock:
            for index, feed in enumerate(self._feeds):
                if feed.version:
                    feed.version, feed.added = 0, []
                    self._render(index, feed)
            self.changes = 0
