"""`SearchIndex`: items indexed for ranked search, built in the background, searched lock-free.

Threads: one lock serializes writers (`add`, `remove`); searches take none
(see `bot.find.search.segment` for how they never see half an item).

Start-up: indexing is CPU-bound Python, 250-350 us per 1.3 KB item on the
2-core benchmark machine (about 30 s at 100,000 items; a desktop is a few
times faster), so it belongs in the background: `build_in_background(
store.iter_items)` indexes in a thread; searches wait for it up to their
`wait` argument, then answer from what is indexed so far with
`SearchResults.complete` False. With `load_items=store.get_items_by_seq` the
index keeps no `Item` of its own and loads only the items it shows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from bot.find.query.matcher import Query
from bot.find.query.nodes import aware
from bot.find.query.question import parse_question
from bot.find.search.analysis import Analyzed, analyze_item
from bot.find.search.bm25f import LENGTH_CAP
from bot.find.search.results import MAX_LIMIT, SearchResults
from bot.find.search.run import SearchRun
from bot.find.search.segment import Segment, compact
from bot.find.textindex import fold_text
from bot.models import Item

__all__ = ["ItemLoader", "SearchIndex"]

log = logging.getLogger(__name__)

ItemLoader = Callable[[Sequence[int]], Iterable[Item]]


class SearchIndex:
    """Items indexed for ranked search (how: see the modules of `bot.find.search`).

    `feed_tags` maps a feed id to its feed's tags, which count for `tag:` as
    the item's own do (read at search time, so `set_feed_tags` takes effect at
    once). `load_items(seqs)` returns the stored items with those seqs (skipping
    unknown ones), e.g. `Store.get_items_by_seq`: the index then keeps no
    items and loads only those a search needs. Without it, the index keeps
    each added item.
    """

    def __init__(
        self,
        *,
        feed_tags: Mapping[str, Iterable[str]] | None = None,
        load_items: ItemLoader | None = None,
    ) -> None:
        self._write_lock = threading.Lock()
        self._seg = Segment()
        self._load_items = load_items
        self._items: dict[int, Item] = {}
        self._feed_tags: dict[str, tuple[str, ...]] = {}
        self._tag_feeds: dict[str, frozenset[str]] = {}
        self.set_feed_tags(feed_tags or {})
        self._ready = threading.Event()
        self._ready.set()
        self._build_error: str | None = None

    # ------------------------------------------------------------------ writing

    def set_feed_tags(self, feed_tags: Mapping[str, Iterable[str]]) -> None:
        """Replace the feed id -> tags mapping (after a configuration reload)."""
        tags = {feed: tuple(values) for feed, values in feed_tags.items()}
        by_tag: dict[str, set[str]] = {}
        for feed, values in tags.items():
            for value in values:
                by_tag.setdefault(fold_text(value).strip(), set()).add(feed)
        # Two assignments a search may see apart: at worst one search uses the
        # old tags for the filter and the new ones for confirming a hit.
        self._tag_feeds = {tag: frozenset(feeds) for tag, feeds in by_tag.items()}
        self._feed_tags = tags

    def add(self, item: Item) -> None:
        """Index `item` (replacing any indexed item with the same seq)."""
        self.add_many((item,))

    def add_many(self, items: Iterable[Item]) -> None:
        """Index `items`; an item whose seq is already indexed replaces that one.

        The seq identifies an item: one without (0, not from the store) is
        skipped with a warning, since all such items would replace each other.
        """
        # Analysis is pure and the slow part: done before taking the lock.
        analyzed: list[Analyzed] = []
        unstored: list[Item] = []
        for item in items:
            if item.seq > 0:
                analyzed.append(analyze_item(item))
            else:
                unstored.append(item)
        if unstored:
            log.warning(
                "search index: %d item(s) without a seq skipped, such as %r of feed %r;"
                " index items as the store returns them",
                len(unstored),
                unstored[0].id,
                unstored[0].feed_id,
            )
        if not analyzed:
            return
        with self._write_lock:
            seg = self._seg
            count = seg.live + len(analyzed)
            title_total = seg.title_total + sum(min(len(a.title), LENGTH_CAP) for a in analyzed)
            summary_total = seg.summary_total + sum(
                min(len(a.summary), LENGTH_CAP) for a in analyzed
            )
            # Averages over what the index will hold, this batch included;
            # max(1, ...) keeps a corpus without summaries from dividing by 0.
            avg_title = max(1.0, title_total / count)
            avg_summary = max(1.0, summary_total / count)
            for entry in analyzed:
                self._append(seg, entry, avg_title, avg_summary)
            self._compact_if_worth_it()

    def _append(self, seg: Segment, entry: Analyzed, avg_title: float, avg_summary: float) -> None:
        item = entry.item
        self._remove_locked(seg, item.seq)
        if self._load_items is None:
            self._items[item.seq] = item
        seg.append(entry, avg_title, avg_summary)

    def remove(self, seq: int) -> bool:
        """Drop the item with this seq from the index; return whether it was there."""
        with self._write_lock:
            if not self._remove_locked(self._seg, seq):
                return False
            self._compact_if_worth_it()
            return True

    def _compact_if_worth_it(self) -> None:
        # Under the write lock. A quarter of dead slots: removed items cost
        # memory and time in every posting list they were in.
        seg = self._seg
        if seg.dead > 1024 and seg.dead * 4 > len(seg.seqs):
            self._seg = compact(seg)

    def _remove_locked(self, seg: Segment, seq: int) -> bool:
        if not seg.remove(seq):
            return False
        self._items.pop(seq, None)
        return True

    def build_in_background(
        self, load: Callable[[], Iterable[Item]], *, chunk: int = 2000
    ) -> threading.Thread:
        """Index `load()`'s items in a daemon thread; searches wait for it (see `search`).

        For start-up: `index.build_in_background(store.iter_items)`. Items the
        poller adds meanwhile are indexed as usual; one seen twice is indexed once.
        """
        self._ready.clear()
        self._build_error = None

        def build() -> None:
            started = time.perf_counter()
            try:
                batch: list[Item] = []
                for item in load():
                    batch.append(item)
                    if len(batch) >= chunk:
                        self.add_many(batch)
                        batch = []
                self.add_many(batch)
                log.info(
                    "search index: %d items indexed in %.1f s",
                    len(self),
                    time.perf_counter() - started,
                )
            except Exception as error:
                self._build_error = f"building the search index failed: {error}"
                log.exception("search index: build failed after %d items", len(self))
            finally:
                self._ready.set()

        thread = threading.Thread(target=build, name="search-index-build", daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until a background build is done; return whether it is."""
        return self._ready.wait(timeout)

    @property
    def build_error(self) -> str | None:
        """Why the background build stopped early, or None."""
        return self._build_error

    def __len__(self) -> int:
        return self._seg.live

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self._seg.doc_of(seq) is not None

    def __repr__(self) -> str:
        return f"<SearchIndex {len(self)} items, {len(self._seg.terms)} terms>"

    def stats(self) -> dict[str, int]:
        """Sizes, for logs and benchmarks: items, terms, postings, dead doc slots."""
        seg = self._seg
        return {
            "items": seg.live,
            "terms": len(seg.terms),
            "postings": sum(len(p) for p in seg.postings),
            "dead": seg.dead,
            "feeds": len(seg.feed_names),
        }

    # ------------------------------------------------------------------ searching

    def search_text(
        self, text: str, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        """Search a line a user typed: query syntax, or plain words (filler dropped).

        Raises `bot.find.query.syntax.QueryError` (its text is for the user) when the line
        does not parse or names no subject.
        """
        return self.search(parse_question(text), now=now, limit=limit, offset=offset, wait=wait)

    def search(
        self,
        query: Query,
        *,
        now: datetime,
        limit: int = 10,
        offset: int = 0,
        wait: float = 10.0,
    ) -> SearchResults:
        """Return the best `limit` stories matching `query` after the first `offset`.

        Relative times (`since:7d`) and the recency boost count from `now`.
        While a background build runs, waits up to `wait` seconds for it.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if offset < 0:
            raise ValueError(f"offset must be 0 or more, not {offset}")
        started = time.perf_counter()
        complete = self._ready.wait(wait) and self._build_error is None
        now = aware(now)
        run = SearchRun(
            self._seg,
            query,
            now,
            fetch=self._fetch,
            tags_of_feed=self._tags_of_feed,
            feeds_with_tag=self._feeds_with_tag,
        )
        hits, total, exact = run.execute(offset, limit)
        return SearchResults(
            query=query,
            hits=tuple(hits),
            total=total,
            took_ms=(time.perf_counter() - started) * 1000,
            offset=offset,
            total_exact=exact,
            complete=complete,
        )

    # ------------------------------------------------------------------ for SearchRun

    def _fetch(self, seqs: Sequence[int]) -> dict[int, Item]:
        if self._load_items is None:
            items = self._items
            return {seq: found for seq in seqs if (found := items.get(seq)) is not None}
        return {item.seq: item for item in self._load_items(list(seqs))}

    def _tags_of_feed(self, feed_id: str) -> tuple[str, ...]:
        return self._feed_tags.get(feed_id, ())

    def _feeds_with_tag(self, tag: str) -> Iterable[str]:
        return self._tag_feeds.get(tag, ())
