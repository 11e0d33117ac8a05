"""`SearchIndex`: items indexed for ranked search, built in the background, searched lock-free.

Threads: one lock serializes writers (`add`, `remove`); searches take none
(see `bot.find.search.segment` for how they never see half an item).

Start-up: indexing is CPU-bound Python, 250-350 us per 1.3 KB item on the
2-core benchmark machine (about 30 s at 100,000 items; a desktop is a few
times faster), so it belongs in the background: `build_in_background(
store.items.after)` indexes in a thread; searches wait for it up to their
`wait` argument, then answer from what is indexed so far with
`SearchResults.complete` False. With `load_items=store.items.by_seq` the
index keeps no `Item` of its own and loads only the items it shows.

Following a store: made with `load_after=store.items.after`, the index
remembers the highest seq it has indexed and `catch_up` indexes every item
stored after it. The bot calls it after each poll and every search calls it
first, so the index converges on what is stored whatever happened in
between: a poll whose commit failed after its items were written, a catch-up
that stopped on an error (the next one resumes where it stopped). Items
are never fed to it from a poll's own list, which a failed commit would make
wrong. Catch-ups run one at a time (their own lock, not the writers').
"""

from __future__ import annotations

import itertools
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
from bot.find.search.results import SearchResults, check_page
from bot.find.search.run import SearchRun
from bot.find.search.segment import Segment, compact
from bot.find.textindex import feeds_by_tag
from bot.models import Item

__all__ = ["AfterLoader", "ItemLoader", "SearchIndex"]

log = logging.getLogger(__name__)

ItemLoader = Callable[[Sequence[int]], Iterable[Item]]
# The stored items with a seq above the given one, in seq order (`Store.items.after`).
AfterLoader = Callable[[int], Iterable[Item]]


class SearchIndex:
    """Items indexed for ranked search (how: see the modules of `bot.find.search`).

    `feed_tags` maps a feed id to its feed's tags, which count for `tag:` as
    the item's own do (read at search time, so `set_feed_tags` takes effect at
    once). `load_items(seqs)` returns the stored items with those seqs (skipping
    unknown ones), e.g. `Store.items.by_seq`: the index then keeps no
    items and loads only those a search needs. Without it, the index keeps
    each added item. `load_after` makes it follow a store (see the module
    docstring and `catch_up`).
    """

    def __init__(
        self,
        *,
        feed_tags: Mapping[str, Iterable[str]] | None = None,
        load_items: ItemLoader | None = None,
        load_after: AfterLoader | None = None,
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
        self._load_after = load_after
        self._catch_up_lock = threading.Lock()
        self._indexed_through = 0  # every stored item up to this seq is indexed (catch_up)

    # ------------------------------------------------------------------ writing

    def set_feed_tags(self, feed_tags: Mapping[str, Iterable[str]]) -> None:
        """Replace the feed id -> tags mapping (after a configuration reload)."""
        tags = {feed: tuple(values) for feed, values in feed_tags.items()}
        by_tag = feeds_by_tag(tags)
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

        For a given set of items; an index that follows a store starts with
        `catch_up_in_background` instead. Items added meanwhile are indexed as
        usual; one seen twice is indexed once.
        """

        def build() -> None:
            try:
                batch: list[Item] = []
                for item in load():
                    batch.append(item)
                    if len(batch) >= chunk:
                        self.add_many(batch)
                        batch = []
                self.add_many(batch)
            except Exception as error:
                self._build_error = f"building the search index failed: {error}"
                log.exception("search index: build failed after %d items", len(self))

        return self._in_background(build)

    def catch_up_in_background(self, *, chunk: int = 2000) -> threading.Thread:
        """`catch_up` in a daemon thread (at start-up: everything stored); searches wait for it."""
        # Taken here, not in the thread: a search arriving first would
        # otherwise do the whole build on its own thread, ignoring its `wait`.
        self._catch_up_lock.acquire()
        try:
            return self._in_background(lambda: self._catch_up_held(chunk))
        except BaseException:
            self._catch_up_lock.release()
            raise

    def catch_up(self, *, timeout: float = -1, chunk: int = 2000) -> bool:
        """Index every stored item after the highest seq indexed so far; whether all are now.

        Needs `load_after`. Waits up to `timeout` seconds (-1: as long as it
        takes) for a catch-up running on another thread, which is indexing
        the same items; False if that one still runs, or if reading or
        indexing failed (logged; `build_error` says why until a later
        catch-up gets through, starting where this one stopped).
        """
        if self._load_after is None:
            raise RuntimeError("catch_up needs an index made with load_after")
        if not self._catch_up_lock.acquire(timeout=timeout):
            return False
        return self._catch_up_held(chunk)

    def _catch_up_held(self, chunk: int) -> bool:
        """`catch_up` once its lock is taken; releases the lock."""
        load_after = self._load_after
        assert load_after is not None
        try:
            # Read again until nothing is left: items committed meanwhile come too.
            while batch := list(itertools.islice(load_after(self._indexed_through), chunk)):
                self.add_many(batch)
                self._indexed_through = max(self._indexed_through, batch[-1].seq)
        except Exception as error:
            self._build_error = f"indexing the stored items failed: {error}"
            log.exception("search index: catching up stopped after seq %d", self._indexed_through)
            return False
        else:
            self._build_error = None
            return True
        finally:
            self._catch_up_lock.release()

    @property
    def indexed_through(self) -> int:
        """The seq `catch_up` has indexed every stored item up to (0 before the first)."""
        return self._indexed_through

    def _in_background(self, work: Callable[[], object]) -> threading.Thread:
        """Run `work` (a build) in a daemon thread; searches wait for it (`wait_ready`)."""
        self._ready.clear()
        self._build_error = None

        def run() -> None:
            started = time.perf_counter()
            try:
                work()
            finally:
                self._ready.set()
            if self._build_error is None:
                took = time.perf_counter() - started
                log.info("search index: %d items indexed in %.1f s", len(self), took)

        thread = threading.Thread(target=run, name="search-index-build", daemon=True)
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
        An index that follows a store catches up with it first; while a
        background build runs, waits up to `wait` seconds for it.
        """
        check_page(limit, offset)
        started = time.perf_counter()
        complete = self._current(wait)
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

    def matching(
        self, query: Query, seqs: Iterable[int], *, now: datetime, wait: float = 10.0
    ) -> set[int] | None:
        """The seqs among `seqs` whose items match `query`, exactly (what the index can
        only suspect is checked with `Query.matches`); None while the index is incomplete.

        For counting (`bot.brief.ask`): the cost follows the postings and the
        suspects among `seqs`, not the number of items.
        """
        if not self._current(wait):
            return None
        seg = self._seg
        universe = {doc for seq in seqs if (doc := seg.doc_of(seq)) is not None}
        run = SearchRun(
            seg,
            query,
            aware(now),
            fetch=self._fetch,
            tags_of_feed=self._tags_of_feed,
            feeds_with_tag=self._feeds_with_tag,
        )
        sure, maybe = run.evaluator.evaluate(query.root, universe)
        alive, numbers = seg.alive, seg.seqs
        found = {numbers[doc] for doc in sure if alive[doc]}
        pending = [doc for doc in maybe if alive[doc] and doc not in sure]
        run.load(pending)
        found.update(numbers[doc] for doc in pending if run.verify(doc))
        return found

    def _current(self, wait: float) -> bool:
        """Whether the index holds everything, after up to `wait` s of catching up and building."""
        deadline = time.monotonic() + wait
        if self._load_after is not None:
            self.catch_up(timeout=wait)  # waits for a running build: it holds the same lock
        return self._ready.wait(max(0.0, deadline - time.monotonic())) and self._build_error is None

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
