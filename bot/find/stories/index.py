"""`StoryIndex`: recent stories by link, document number and title words, to recognize a repeat.

`StoryIndex` is pure and in memory (no store access, no I/O, not thread-safe:
the pipeline's one ingest thread owns it). The pipeline calls `add(item)` for
each newly stored item. None means the item is a story of its own (a
"primary"); a `StoryMatch` names the earlier primary it repeats, and the
pipeline records the link through `extras.link_extras`.

Rules, first match wins:

1. Same document. Both carry a Federal Register document number (the item id
   `fr:<number>`, or one read from the link) and they are equal. Two different
   numbers are never one story, whatever the titles say: "Additions to the
   Entity List" is the title of dozens of documents.
2. Same link: equal links in their identity form (`links.identity_link`: http
   and https alike, no trailing slash, no tracking parameters). A site's
   root page never counts, nor does a link that one feed has shown on two items
   with unrelated titles (Scripting News links every post of a day to the
   day's page): from then on it names a page, not a story. Within one feed the
   titles must also share half their words, so a re-post under a new id with
   an edited title links and a second post on the same day page does not.
3. Similar title, only between different feeds: `when` at most `window` (3
   days) apart, at least 4 content words on each side, token-set Jaccard of
   the normalized titles (`titles.title_tokens`) at least 0.8, and no conflict:
   opposite actions ("adds" / "removes", "imposes" / "lifts", see
   `titles._OPPOSITES`), a negation on one side only ("not", "won't"), or a
   number on each side that the other lacks ("12 firms" / "14 firms"). Never
   within one feed: a feed's own look-alike titles are serial headings
   ("Sunshine Act Meetings", the Kanpo gazette's daily "会社その他"), not
   re-posts. A title a feed has used for two different items (other id, other
   link) is such a heading and never matches across feeds either.

Why 0.8, and how titles are normalized: see `bot.find.stories.titles`.

Memory: title postings are kept for `window` plus a day, links and document
numbers for `retention` (35 days: a Federal Register feed added today brings
back 30 days of documents, which must find the copies stored from another
feed). Age is measured against the newest `when` seen, not a clock. Title
candidates come from an inverted index with a prefix filter: a title with n
tokens can reach Jaccard t only with a title sharing one of any n - ceil(t*n)
+ 1 of its tokens, so only the shortest posting lists are read; no pair is
missed, except that at most 512 of the newest entries are read per list (a
title made only of words found in every headline of the window). Links and
document numbers are dict look-ups: `add` costs O(title length), amortized.

`StoryIndex.build` makes the index from stored items, `replay` adds those stored
since; `bot.find.stories.persist` writes it down and reads it back.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from bot.find.stories.titles import conflict, content_weight, jaccard, title_tokens
from bot.ingest.links import fr_document_number, identity_link
from bot.models import Item

__all__ = [
    "DEFAULT_RETENTION",
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW",
    "MIN_CONTENT_WORDS",
    "StoryIndex",
    "StoryMatch",
]

DEFAULT_WINDOW: Final = timedelta(days=3)
DEFAULT_RETENTION: Final = timedelta(days=35)
DEFAULT_THRESHOLD: Final = 0.8
MIN_CONTENT_WORDS: Final = 4.0
# Title postings outlive the window by this much, so an item dated a little
# before the newest one still finds its match.
TITLE_SLACK: Final = timedelta(days=1)
# Share of words two same-feed titles behind one link must have in common.
SAME_FEED_LINK_SIMILARITY: Final = 0.5
# Newest entries read per probed title word (see `_title_candidates`).
_MAX_SCAN = 512
# Shared by every entry whose title is not matchable (a new frozenset() each time costs 200 B).
_NO_TOKENS: Final[frozenset[str]] = frozenset()
# How many adds between sweeps of the generic-title and ambiguous-link memories.
_SWEEP_EVERY = 1024

Reason = Literal["same link", "same document", "similar title"]


@dataclass(frozen=True, slots=True)
class StoryMatch:
    """The new item repeats the story of an earlier, indexed item (its primary)."""

    primary_seq: int
    primary_feed_id: str
    reason: Reason
    primary_id: str = ""
    # Jaccard of the normalized titles for "similar title"; 1.0 otherwise.
    similarity: float = 1.0


@dataclass(eq=False, slots=True)
class _Entry:
    """One primary story; hashed by identity, so it can sit in posting sets."""

    seq: int
    feed_id: str
    item_id: str
    when: datetime
    document: str | None
    # The title's tokens while it can be matched (see `_index_primary`), else empty.
    tokens: frozenset[str]
    weight: float
    links: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    in_titles: bool = False
    alive: bool = True


@dataclass(frozen=True, slots=True)
class _LinkRef:
    """Who first showed a link: the story it belongs to, and that feed's title."""

    entry: _Entry
    feed_id: str
    # A tuple takes a third of a frozenset's memory; compared rarely.
    tokens: tuple[str, ...]


# A canonical link (parse.canonicalize_link) to a site's root page.
_ROOT_PAGE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#]*/?$")


def _story_link(link: str | None) -> str | None:
    """The link's identity form if it can name one story: not empty, not a site's root page."""
    if not link or _ROOT_PAGE.match(link):
        return None
    return identity_link(link) or link


def _document_number(item: Item) -> str | None:
    if item.id.startswith("fr:"):
        return item.id[3:] or None
    # Canonical links have a lower-case host: the substring test skips the URL parse.
    if item.link and "federalregister.gov" in item.link:
        return fr_document_number(item.link)
    return None


# --- the index -----------------------------------------------------------------


class StoryIndex:
    """Recent stories by link, Federal Register document number and title words."""

    def __init__(
        self,
        *,
        window: timedelta = DEFAULT_WINDOW,
        retention: timedelta = DEFAULT_RETENTION,
        threshold: float = DEFAULT_THRESHOLD,
        min_content_words: float = MIN_CONTENT_WORDS,
    ) -> None:
        if window < timedelta(0):
            raise ValueError(f"story window must not be negative, got {window}")
        if retention < window + TITLE_SLACK:
            raise ValueError(
                f"story retention ({retention}) must be at least the window plus"
                f" {TITLE_SLACK} ({window + TITLE_SLACK})"
            )
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"title similarity threshold must be in (0, 1], got {threshold}")
        self.window = window
        self.retention = retention
        self.threshold = threshold
        self.min_content_words = min_content_words
        self._now: datetime | None = None  # the newest `when` seen
        self._by_link: dict[str, _LinkRef] = {}
        self._by_document: dict[str, _Entry] = {}
        self._by_seq: dict[int, _Entry] = {}
        # token -> entries whose title holds it, oldest first (dicts keep order).
        self._postings: dict[str, dict[_Entry, None]] = {}
        self._seen: dict[tuple[str, str], StoryMatch | None] = {}
        # Titles a feed used for two different items, and links a feed showed
        # on unrelated items; value: when last observed.
        self._generic_titles: dict[frozenset[str], datetime] = {}
        self._ambiguous_links: dict[str, datetime] = {}
        self._order = itertools.count()
        self._entry_heap: list[tuple[datetime, int, _Entry]] = []
        self._title_heap: list[tuple[datetime, int, _Entry]] = []
        self._seen_heap: list[tuple[datetime, int, tuple[str, str]]] = []
        self._adds = 0

    @property
    def horizon(self) -> timedelta:
        """How far back the stored items handed to `build` should reach."""
        return self.retention

    def __len__(self) -> int:
        """The number of primary stories currently held."""
        return len(self._entry_heap)

    @classmethod
    def build(
        cls,
        items: Iterable[Item],
        *,
        window: timedelta = DEFAULT_WINDOW,
        retention: timedelta = DEFAULT_RETENTION,
        threshold: float = DEFAULT_THRESHOLD,
        min_content_words: float = MIN_CONTENT_WORDS,
    ) -> StoryIndex:
        """An index holding the given stored items (e.g. those of the last `horizon`).

        Items are replayed in seq order. One with an `Item.duplicate_of` is
        not a primary: its link and document number are attached to its
        primary when that is among the items. A primary that matches an
        earlier item (stored before the two could be linked) is treated as its
        duplicate in memory; nothing is written. The options are the
        constructor's.
        """
        index = cls(
            window=window,
            retention=retention,
            threshold=threshold,
            min_content_words=min_content_words,
        )
        index.replay(items)
        return index

    def replay(self, items: Iterable[Item]) -> None:
        """Learn stored items as `build` does (in seq order); adds nothing to the store."""
        ordered = sorted(items, key=lambda item: (item.seq, item.when))
        if ordered:
            newest = max(item.when for item in ordered)
            if self._now is None or newest > self._now:
                self._now = newest
        for item in ordered:
            primary_seq = item.duplicate_of
            if primary_seq is None:
                self.add(item)
            else:
                self._attach_known_duplicate(item, primary_seq)

    def add(self, item: Item) -> StoryMatch | None:
        """Match `item` against the indexed stories; index it as a primary when it is new.

        Adding the same item (feed id and item id) again gives the same answer
        as the first time, while that is remembered (`retention`).
        """
        key = (item.feed_id, item.id)
        if key in self._seen:
            return self._seen[key]
        when = item.when
        if self._now is None or when > self._now:
            self._now = when
        self._evict()
        self._adds += 1
        if self._adds % _SWEEP_EVERY == 0:
            self._sweep()

        document = _document_number(item)
        link = _story_link(item.link)
        tokens = title_tokens(item.title)
        weight = content_weight(tokens)

        match = self._match_document(document)
        if match is None and link is not None:
            match = self._match_link(item.feed_id, link, document, tokens, when)
        if match is None and weight >= self.min_content_words:
            match = self._match_title(item.feed_id, link, document, tokens, when)

        if match is not None:
            primary, reason, similarity = match
            self._attach(primary, item.feed_id, link, document, tokens)
            result: StoryMatch | None = StoryMatch(
                primary_seq=primary.seq,
                primary_feed_id=primary.feed_id,
                reason=reason,
                primary_id=primary.item_id,
                similarity=similarity,
            )
        else:
            self._index_primary(item, link, document, tokens, weight)
            result = None
        self._remember(key, when, result)
        return result

    # --- matching ---

    def _match_document(self, document: str | None) -> tuple[_Entry, Reason, float] | None:
        if document is None:
            return None
        entry = self._by_document.get(document)
        return (entry, "same document", 1.0) if entry is not None else None

    def _match_link(
        self,
        feed_id: str,
        link: str,
        document: str | None,
        tokens: frozenset[str],
        when: datetime,
    ) -> tuple[_Entry, Reason, float] | None:
        if link in self._ambiguous_links:
            return None
        ref = self._by_link.get(link)
        if ref is None:
            return None
        if document and ref.entry.document and document != ref.entry.document:
            return None
        same_feed = ref.feed_id == feed_id and (tokens or ref.tokens)
        if same_feed and jaccard(tokens, frozenset(ref.tokens)) < SAME_FEED_LINK_SIMILARITY:
            # One feed, one link, unrelated titles: a page, not a story.
            self._ambiguous_links[link] = when
            return None
        return ref.entry, "same link", 1.0

    def _match_title(
        self,
        feed_id: str,
        link: str | None,
        document: str | None,
        tokens: frozenset[str],
        when: datetime,
    ) -> tuple[_Entry, Reason, float] | None:
        if tokens in self._generic_titles:
            return None
        best: tuple[float, int, _Entry] | None = None
        for entry in self._title_candidates(tokens):
            if entry.feed_id == feed_id:
                if entry.tokens == tokens and link not in entry.links:
                    # One feed, one title, two items: a recurring heading.
                    self._generic_titles[tokens] = when
                    return None
                continue
            if abs(entry.when - when) > self.window or entry.tokens in self._generic_titles:
                continue
            if document and entry.document and document != entry.document:
                continue
            if entry.weight < self.min_content_words:
                continue
            score = jaccard(tokens, entry.tokens)
            if score < self.threshold or conflict(tokens, entry.tokens):
                continue
            # Best score first; among equals the earliest stored story.
            rank = (score, -entry.seq, entry)
            if best is None or rank[:2] > best[:2]:
                best = rank
        if best is None:
            return None
        return best[2], "similar title", round(best[0], 4)

    def _title_candidates(self, tokens: frozenset[str]) -> set[_Entry]:
        """The indexed titles that can reach the threshold with `tokens` (prefix filter).

        At most `_MAX_SCAN` of the newest entries per probed token are read, so
        a title made only of words in every headline of the window costs a
        bounded amount (and may miss an older twin).
        """
        need = math.ceil(self.threshold * len(tokens) - 1e-9)
        probe = len(tokens) - need + 1
        by_rarity = sorted(tokens, key=lambda token: len(self._postings.get(token, ())))
        candidates: set[_Entry] = set()
        for token in by_rarity[:probe]:
            posting = self._postings.get(token)
            if posting:
                candidates.update(itertools.islice(reversed(posting), _MAX_SCAN))
        return candidates

    # --- indexing ---

    def _index_primary(
        self,
        item: Item,
        link: str | None,
        document: str | None,
        tokens: frozenset[str],
        weight: float,
    ) -> None:
        assert self._now is not None
        when = item.when
        if when < self._now - self.retention:
            return  # older than anything kept: it would be evicted at once
        entry = _Entry(
            seq=item.seq,
            feed_id=item.feed_id,
            item_id=item.id,
            when=when,
            document=document,
            tokens=_NO_TOKENS,  # set below while the title is matchable
            weight=weight,
        )
        heapq.heappush(self._entry_heap, (when, next(self._order), entry))
        if item.seq > 0:
            self._by_seq.setdefault(item.seq, entry)
        self._attach(entry, item.feed_id, link, document, tokens)
        if weight >= self.min_content_words and when >= self._now - self.window - TITLE_SLACK:
            entry.in_titles = True
            entry.tokens = tokens
            for token in tokens:
                self._postings.setdefault(token, {})[entry] = None
            heapq.heappush(self._title_heap, (when, next(self._order), entry))

    def _attach(
        self,
        entry: _Entry,
        feed_id: str,
        link: str | None,
        document: str | None,
        tokens: frozenset[str],
    ) -> None:
        """Let later items find `entry` through this link and document number too."""
        if not entry.alive:
            return
        if link is not None and link not in self._by_link:
            self._by_link[link] = _LinkRef(entry, feed_id, tuple(tokens))
            entry.links.append(link)
        if document is not None and document not in self._by_document:
            self._by_document[document] = entry
            entry.documents.append(document)

    def _attach_known_duplicate(self, item: Item, primary_seq: int) -> None:
        """A stored duplicate (build): its keys lead to its primary, if that is held."""
        primary = self._by_seq.get(primary_seq)
        if primary is None or not primary.alive:
            return
        link = _story_link(item.link)
        document = _document_number(item)
        if document is not None and document == primary.document:
            reason: Reason = "same document"
        elif link is not None and link in primary.links:
            reason = "same link"
        else:
            reason = "similar title"
        self._attach(primary, item.feed_id, link, document, title_tokens(item.title))
        match = StoryMatch(primary.seq, primary.feed_id, reason, primary.item_id)
        self._remember((item.feed_id, item.id), item.when, match)

    def _remember(self, key: tuple[str, str], when: datetime, result: StoryMatch | None) -> None:
        assert self._now is not None
        if when < self._now - self.retention:
            return
        self._seen[key] = result
        heapq.heappush(self._seen_heap, (when, next(self._order), key))

    # --- forgetting ---

    def _evict(self) -> None:
        assert self._now is not None
        title_cutoff = self._now - self.window - TITLE_SLACK
        while self._title_heap and self._title_heap[0][0] < title_cutoff:
            entry = heapq.heappop(self._title_heap)[2]
            self._drop_title(entry)
        cutoff = self._now - self.retention
        while self._entry_heap and self._entry_heap[0][0] < cutoff:
            entry = heapq.heappop(self._entry_heap)[2]
            entry.alive = False
            self._drop_title(entry)
            for link in entry.links:
                ref = self._by_link.get(link)
                if ref is not None and ref.entry is entry:
                    del self._by_link[link]
            for document in entry.documents:
                if self._by_document.get(document) is entry:
                    del self._by_document[document]
            if self._by_seq.get(entry.seq) is entry:
                del self._by_seq[entry.seq]
        while self._seen_heap and self._seen_heap[0][0] < cutoff:
            self._seen.pop(heapq.heappop(self._seen_heap)[2], None)

    def _drop_title(self, entry: _Entry) -> None:
        if not entry.in_titles:
            return
        entry.in_titles = False
        for token in entry.tokens:
            posting = self._postings.get(token)
            if posting is not None:
                posting.pop(entry, None)
                if not posting:
                    del self._postings[token]
        entry.tokens = _NO_TOKENS

    def _sweep(self) -> None:
        """Forget generic titles and ambiguous links not observed within `retention`."""
        assert self._now is not None
        cutoff = self._now - self.retention
        self._generic_titles = {k: v for k, v in self._generic_titles.items() if v >= cutoff}
        self._ambiguous_links = {k: v for k, v in self._ambiguous_links.items() if v >= cutoff}
