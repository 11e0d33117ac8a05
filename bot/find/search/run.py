"""One search, from the query's tree to a page of hits and the number of stories matched.

Suspected docs (see `bot.find.search.evaluate`) are checked with
`Query.matches` in rank order as far as the page needs, at most MAX_VERIFY per
search; past that the total is estimated from a sample
(`SearchResults.total_exact` False). Every hit is checked with `Query.matches`
before it is returned, on the `MatchDoc` that `prepare_doc` would build (built
here with the fast tokenizer of textindex; a property test holds them equal).

Stories: an item whose `Item.duplicate_of` is another item's seq is a copy of
that story (chains are not followed). A story is shown once, by its primary
item when that matches, else by its best matching copy; `SearchHit.also_in`
names the other copies' feeds. `total` counts stories.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from bot.find.query.matcher import Query
from bot.find.search.analysis import prepare_doc_fast
from bot.find.search.evaluate import Evaluator
from bot.find.search.ranking import Ranker
from bot.find.search.results import SearchHit
from bot.find.search.segment import Segment, micros
from bot.find.search.snippets import Highlighter
from bot.models import Item

__all__ = ["MAX_VERIFY", "SearchRun"]

log = logging.getLogger(__name__)

#: Suspected docs (see the module doc) checked one by one per search, at most.
MAX_VERIFY = 400
#: Of those, kept for a sample of the rest when there are too many: the total's estimate.
_ESTIMATE_SAMPLE = 120


class SearchRun:
    """The state of one search: a snapshot of the segment and what it learned.

    `fetch(seqs)` returns the items with those seqs it has (by seq);
    `tags_of_feed` and `feeds_with_tag` read the index's feed tags.
    """

    def __init__(
        self,
        seg: Segment,
        query: Query,
        now: datetime,
        *,
        fetch: Callable[[Sequence[int]], Mapping[int, Item]],
        tags_of_feed: Callable[[str], tuple[str, ...]],
        feeds_with_tag: Callable[[str], Iterable[str]],
    ) -> None:
        self.seg = seg
        self.query = query
        self.now = now
        self.fetch = fetch
        self.tags_of_feed = tags_of_feed
        self.evaluator = Evaluator(seg, now, feeds_with_tag)
        self.visible = self.evaluator.visible  # the docs this search sees
        self.ranker = Ranker(self.evaluator, query, micros(now))
        self.verified: dict[int, bool] = {}
        self.items: dict[int, Item] = {}

    def load(self, docs: Iterable[int]) -> None:
        seqs = self.seg.seqs
        wanted = [seqs[d] for d in docs if seqs[d] not in self.items]
        if wanted:
            self.items.update(self.fetch(wanted))

    def item_of(self, doc: int) -> Item | None:
        seq = self.seg.seqs[doc]
        if seq not in self.items:
            self.load((doc,))
        return self.items.get(seq)

    def verify(self, doc: int) -> bool:
        """Whether a maybe doc matches the query (cached for this search)."""
        found = self.verified.get(doc)
        if found is None:
            item = self.item_of(doc)
            found = item is not None and self.query.matches(
                prepare_doc_fast(item, self.tags_of_feed(item.feed_id)), now=self.now
            )
            self.verified[doc] = found
        return found

    def confirm(self, item: Item) -> bool:
        """The final check of a hit: `Query.matches` on the item as the query module sees it."""
        doc = prepare_doc_fast(item, self.tags_of_feed(item.feed_id))
        return self.query.matches(doc, now=self.now)

    # ---------------------------------------------------------------- the whole search

    def execute(self, offset: int, limit: int) -> tuple[list[SearchHit], int, bool]:
        seg = self.seg
        sure, maybe = self.evaluator.evaluate(self.query.root, None)
        if seg.dead:
            alive = seg.alive
            sure = {d for d in sure if alive[d]}
            maybe = {d for d in maybe if alive[d]}
        candidates = sure | maybe
        if not candidates:
            return [], 0, True
        stories = seg.stories
        seen_stories: set[int] = set()
        highlighter = Highlighter(self.query)
        hits: list[SearchHit] = []
        dropped = 0  # removed since the search began
        budget = MAX_VERIFY - _ESTIMATE_SAMPLE  # the rest is kept for the total
        # Walk the ranking: the best matching doc of each story, once per
        # story; stories before `offset` are counted, not built.
        for doc, score in self.ranker.ranking(candidates, (offset + limit) * 2 + 8):
            story = stories[doc]
            if story in seen_stories:
                continue
            if doc in maybe:
                if budget <= 0 and doc not in self.verified:
                    continue  # out of budget: the page is filled from sure docs
                budget -= doc not in self.verified
                if not self.verify(doc):
                    continue
            seen_stories.add(story)
            if len(seen_stories) <= offset:
                continue
            hit = self.build_hit(doc, score, sure, maybe, highlighter)
            if hit is None:
                dropped += 1
                continue
            hits.append(hit)
            if len(hits) >= limit:
                break
        total, exact = self.count_stories(sure, maybe, budget + _ESTIMATE_SAMPLE)
        return hits, max(total - dropped, len(hits) + offset), exact

    def count_stories(self, sure: set[int], maybe: set[int], budget: int) -> tuple[int, bool]:
        seg = self.seg
        stories = seg.stories
        if not maybe:
            # Cheaper than a set of every doc's story: each doc is a story,
            # less the extra members of stories told more than once.
            shared = seg.shared
            told_again = [stories[d] for d in sure if shared[d]]
            return len(sure) - len(told_again) + len(set(told_again)), True
        matched = {stories[d] for d in sure}
        matched.update(stories[d] for d, ok in self.verified.items() if ok)
        pending = sorted(d for d in maybe if d not in self.verified and stories[d] not in matched)
        if len(pending) <= budget:
            self.load(pending)
            matched.update(stories[d] for d in pending if self.verify(d))
            return len(matched), True
        # Too many to check: estimate from an evenly random sample.
        sample = random.Random(len(pending)).sample(pending, min(_ESTIMATE_SAMPLE, budget))
        self.load(sample)
        ratio = sum(self.verify(d) for d in sample) / len(sample)
        return len(matched) + round(ratio * len({stories[d] for d in pending})), False

    def build_hit(
        self, best: int, score: float, sure: set[int], maybe: set[int], highlighter: Highlighter
    ) -> SearchHit | None:
        """The hit for the story whose best matching doc is `best`; None if it is gone."""
        seg = self.seg
        show = best
        primary = seg.doc_of(seg.stories[best])
        if (
            primary is not None
            and primary != best
            and primary < self.visible
            and seg.alive[primary]
            and (primary in sure or (primary in maybe and self.verify(primary)))
        ):
            show = primary  # the story's own item, when it matches too
        item = self.item_of(show)
        if item is None or not seg.alive[show]:
            return None  # removed since this search began
        if not self.confirm(item):
            # The index and the query language disagree: a bug, but the user
            # still sees only true matches.
            log.warning("search index: %r does not match seq %d; skipped", self.query, item.seq)
            return None
        return highlighter.hit(item, score, self.also_in(show, item.feed_id))

    def also_in(self, doc: int, feed_id: str) -> tuple[str, ...]:
        seg = self.seg
        story = seg.stories[doc]
        members = list(seg.copies.get(story, ()))
        primary = seg.doc_of(story)
        if primary is not None:
            members.append(primary)
        feeds: dict[str, None] = {}
        for member in sorted(members):
            if member != doc and member < self.visible and seg.alive[member]:
                name = seg.feed_names[seg.feeds[member]]
                if name != feed_id:
                    feeds.setdefault(name)
        return tuple(feeds)
