"""Ranked search over stored items: an in-memory inverted index, BM25F, a recency boost.

What `SearchIndex` holds, with no Python object per posting or per doc:

- per term, the ascending doc numbers that hold it (`array("I")`) and one
  byte per posting, the term's BM25F impact in that doc;
- per doc, its terms in order as LEB128 varint ids in one `bytearray` (the
  forward index: about 1.5 bytes a word), which phrases are checked against;
- per doc a few numbers: seq, time, feed, tags, story, lengths.

About 80 MB at 100,000 items of 1.3 KB (8 million postings; bench/search_bench.py
measures it).

Ranking is BM25F (Robertson & Zaragoza 2009, "The Probabilistic Relevance
Framework: BM25 and Beyond", section 3.7): per term `tf~ = sum over fields of
weight * tf / (1 - b + b * length / average length)`, title weight 3, summary
weight 1, `impact = tf~ / (k1 + tf~)`, k1 = 1.2, b = 0.75; a doc scores the sum
of `idf * impact` over the query's positive terms, `idf = ln(1 + (N - df + 0.5)
/ (df + 0.5))` (Lucene's non-negative form). A phrase scores as its words, a
wildcard as its best expansion. Impacts are computed when a doc is added, with
the average lengths of that moment (a batch averaged as a whole first), and
kept in 8 bits: BM25 saturates, so the rounding is far below what ranks.

Recency multiplies that by `1 + 0.5 * 2 ** (-age / 14 days)`: an item from
today weighs 1.5 times the same match from months ago, two weeks old 1.25
times; an item dated in the future counts as new. Ties go to the newer item.
A query without positive terms (filters or NOTs only, `feed:fr-bis since:7d`)
lists the newest matching items, score 0. The boost is bounded, so only docs
whose BM25F could still reach the page are boosted and sorted.

Agreement with the query language: the query's tree (`Query.root`) is
evaluated over the index, exactly: words, phrases (side by side in the forward
index, never across title and summary), wildcards (plural forms like "chips"
are also listed under a "=chips" term, as `chips*` must not match "chip"),
single CJK characters, feed/tag/time filters, AND/OR/NOT. One case is only
suspected: a wildcard after other words whose prefix fits an unstemmed plural
(`export-controls*`), as the forward index holds stems. Suspects are checked
with `Query.matches` in rank order as far as the page needs, at most
MAX_VERIFY per search; past that the total is estimated from a sample
(`SearchResults.total_exact` False). Every hit is checked with `Query.matches`
before it is returned, on the `MatchDoc` that `prepare_doc` would build (built
here with the fast tokenizer of textindex; a property test holds them equal).

Stories: an item whose `extras["duplicate_of"]` is another item's seq is a
copy of that story (chains are not followed). A story is shown once, by its
primary item when that matches, else by its best matching copy;
`SearchHit.also_in` names the other copies' feeds. `total` counts stories.

Threads: one lock serializes writers (`add`, `remove`); searches take none.
A writer appends everything about a doc, then raises the visible-doc count
that a search reads once at its start, and a search copies the visible part
of each list it iterates: it never sees half an item. Removal clears one
byte; once a quarter of the doc numbers are dead, the index is rewritten
without them into a new structure swapped in by one assignment (searches
under way finish on the old one).

Start-up: indexing is CPU-bound Python, 250-350 us per 1.3 KB item on the
2-core benchmark machine (about 30 s at 100,000 items; a desktop is a few
times faster), so it belongs in the background: `build_in_background(
store.iter_items)` indexes in a thread; searches wait for it up to their
`wait` argument, then answer from what is indexed so far with
`SearchResults.complete` False. With `load_items=store.get_items_by_seq` the
index keeps no `Item` of its own and loads only the items it shows.

Tokenizing: items are analyzed with `textindex.fold_and_tokenize`, which
splits ASCII-like text (most English news) 4-5 times faster than the regex of
`textindex.tokenize`, and stems through a cache of `stem_token`.
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import re
import threading
import time
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import compress

from bot.find.query.document import MatchDoc
from bot.find.query.matcher import Query
from bot.find.query.nodes import (
    And,
    Chars,
    FeedIs,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    TagIs,
    TimeBound,
    Word,
)
from bot.find.query.question import parse_question
from bot.find.textindex import ascii_token_spans, fold_and_tokenize, fold_text, is_cjk, stem_token
from bot.models import Item

__all__ = [  # noqa: RUF022 (constants first, then classes and functions)
    "B",
    "K1",
    "MAX_LIMIT",
    "MAX_VERIFY",
    "RECENCY_HALF_LIFE",
    "RECENCY_WEIGHT",
    "SNIPPET_CHARS",
    "SUMMARY_WEIGHT",
    "TITLE_WEIGHT",
    "SearchHit",
    "SearchIndex",
    "SearchResults",
    "mark_spans",
]

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 1.0
RECENCY_WEIGHT = 0.5
RECENCY_HALF_LIFE = timedelta(days=14)
#: Characters of summary (or title) shown around the first match, ellipses not counted.
SNIPPET_CHARS = 160
#: The most hits one search returns.
MAX_LIMIT = 200
#: Suspected docs (see the module doc) checked one by one per search, at most.
MAX_VERIFY = 400
#: Of those, kept for a sample of the rest when there are too many: the total's estimate.
_ESTIMATE_SAMPLE = 120

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_HALF_LIFE_US = RECENCY_HALF_LIFE / _MICROSECOND
_IMPACT_SCALE = 255
_LENGTH_CAP = 0xFFFF
_STEM_CACHE_MAX = 500_000
_ELLIPSIS = "…"

Span = tuple[int, int]
ItemLoader = Callable[[Sequence[int]], Iterable[Item]]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One story in the results.

    `snippet` is about SNIPPET_CHARS of the summary around the first match (the
    summary's start when only the title matches; the title when there is no
    summary), cut on word boundaries, "…" marking a cut. `spans` are (start,
    end) offsets of the matched words in `snippet`, `title_spans` the same in
    `item.title`: the renderer bolds them (see `mark_spans`). `also_in` holds
    the feed ids of other copies of the same story.
    """

    item: Item
    score: float
    snippet: str
    spans: tuple[Span, ...]
    title_spans: tuple[Span, ...] = ()
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResults:
    """A page of hits and how many stories matched in all.

    `total_exact` is False when the total was estimated (too many suspects,
    see MAX_VERIFY); `complete` is False when the index was still being built
    (or its build failed) and the search answered from part of it.
    """

    query: Query
    hits: tuple[SearchHit, ...]
    total: int
    took_ms: float
    offset: int = 0
    total_exact: bool = True
    complete: bool = True


def mark_spans(
    text: str,
    spans: Iterable[Span],
    mark: Callable[[str], str],
    escape: Callable[[str], str] = lambda part: part,
) -> str:
    """Return `text` with each span passed through `mark` and everything through `escape`.

    For Slack: `mark_spans(hit.snippet, hit.spans, lambda s: f"*{s}*", escape_mrkdwn)`.
    Escaping happens per piece, so offsets stay right however escaping changes lengths.
    """
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or end > len(text) or start >= end:
            continue
        out.append(escape(text[pos:start]))
        out.append(mark(escape(text[start:end])))
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


# --------------------------------------------------------------------------- analysis

# Runs of word characters in the original (unfolded) text, for highlighting.
_RUN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

_stem_cache: dict[str, str] = {}
# The index term under which a doc holding the unstemmed form of a plural
# ("chips", stemmed "chip") is listed too, for `chips*`, which matches
# "chips" and not "chip". No token holds "=".
_FORM_MARK = "="


def _stem_all(tokens: list[str]) -> list[str]:
    # A token is never empty, nor is its stem: `or` only calls on a cache miss.
    get = _stem_cache.get
    return [get(token) or _stem_miss(token) for token in tokens]


def _stem_miss(token: str) -> str:
    if len(_stem_cache) > _STEM_CACHE_MAX:
        _stem_cache.clear()
    stem = _stem_cache[token] = stem_token(token)
    return stem


def _analyze_fast(text: str) -> tuple[list[str], list[str]]:
    """Return (raw tokens, stemmed tokens) of `text`, as textindex would produce them."""
    raw = fold_and_tokenize(text)[1]
    return raw, _stem_all(raw)


def _aware(moment: datetime) -> datetime:
    # As bot.find.query: a naive time is taken to be UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (_aware(moment) - _EPOCH) // _MICROSECOND


def _join_fields(title: list[str], summary: list[str]) -> str:
    return f" {' '.join(title)} \n {' '.join(summary)} "


def _prepare_doc_fast(item: Item, feed_tags: Iterable[str] = ()) -> MatchDoc:
    """Return exactly `prepare_doc(item, feed_tags=feed_tags)`, in a fraction of the time."""
    folded_title, raw_title = fold_and_tokenize(item.title)
    folded_summary, raw_summary = fold_and_tokenize(item.summary)
    title = _stem_all(raw_title)
    summary = _stem_all(raw_summary)
    tokens = frozenset(title) | frozenset(summary)
    every_form = tokens.union(raw_title, raw_summary)
    # bot.find.query's wildcard keys: "*" and the first 2 and 3 characters.
    heads = {"*" + token[:2] for token in every_form}
    heads.update("*" + token[:3] for token in every_form)
    return MatchDoc(
        tokens=tokens,
        keys=tokens.union(heads),
        stemmed_text=_join_fields(title, summary),
        raw_text=_join_fields(raw_title, raw_summary),
        folded_text=f"{folded_title}\n{folded_summary}",
        feed_id=item.feed_id,
        tags=frozenset(fold_text(tag).strip() for tag in (*item.tags, *feed_tags)),
        when=_aware(item.when),
    )


def _count_terms(title: list[int], summary: list[int]) -> dict[int, int]:
    """Return term id -> (title tf << 16) + summary tf, each tf capped at 0xFFFF."""
    counts: dict[int, int] = Counter(summary[:0xFFFF])
    for term_id in title[:0xFFFF]:
        counts[term_id] = counts.get(term_id, 0) + 0x10000
    return counts


def _impact(code: int, norm_title: float, norm_summary: float) -> int:
    """BM25F's saturated term weight, tf~ / (k1 + tf~), scaled to 1..255 (see the module doc)."""
    weighted = norm_title * (code >> 16) + norm_summary * (code & 0xFFFF)
    return max(1, round(_IMPACT_SCALE * weighted / (K1 + weighted)))


def _varint(value: int) -> bytes:
    """`value` in LEB128: 7 bits a byte, low bits first, 0x80 on all but the last byte."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes | bytearray, at: int) -> int:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
        at += 1


def _story_of(item: Item) -> int:
    primary = item.extras.get("duplicate_of") if item.extras else None
    if isinstance(primary, int) and not isinstance(primary, bool) and primary != item.seq:
        return primary
    return item.seq


# --------------------------------------------------------------------------- the index data


class _Segment:
    """Everything a search reads. Appended to in place; replaced whole by compaction."""

    def __init__(self) -> None:
        # Term id 0 is no term: it separates title from summary in `forward`.
        self.term_ids: dict[str, int] = {}
        self.terms: list[str] = [""]
        self.postings: list[array[int]] = [array("I")]  # term id -> ascending doc numbers
        self.impacts: list[bytearray] = [bytearray()]  # term id -> impact per posting
        # Every doc's term ids in order (title, 0, summary), each id as a
        # LEB128 varint (`term_codes`): 1 or 2 bytes for most words. Doc d
        # ends at forward_end[d]. What phrases are checked against.
        self.term_codes: list[bytes] = [_varint(0)]
        self.forward = bytearray()
        self.forward_end: array[int] = array("Q")
        self.cjk_terms: list[int] = []
        self.seqs: array[int] = array("q")
        self.whens: array[int] = array("q")  # microseconds since the epoch
        self.feeds: array[int] = array("I")  # index into feed_names
        self.tagsets: array[int] = array("I")  # index into tagset_list
        self.stories: array[int] = array("q")  # the story's primary seq
        self.title_lens: array[int] = array("H")
        self.summary_lens: array[int] = array("H")
        self.alive = bytearray()
        self.shared = bytearray()  # 1: the doc's story has (or had) another doc
        # seq -> doc number: items mostly come in rising seq order, kept in
        # two arrays (12 bytes a doc, a dict costs 90); the others in a dict.
        self.ordered_seqs: array[int] = array("q")
        self.ordered_docs: array[int] = array("I")
        self.unordered_docs: dict[int, int] = {}
        self.copies: dict[int, list[int]] = {}  # story seq -> doc numbers of its copies
        self.feed_names: list[str] = []
        self.feed_ids: dict[str, int] = {}
        self.feed_docs: list[array[int]] = []
        self.tagset_list: list[frozenset[str]] = []
        self.tagset_ids: dict[frozenset[str], int] = {}
        self.tag_docs: dict[str, array[int]] = {}
        self.day_docs: dict[int, array[int]] = {}  # day since the epoch (UTC) -> docs
        self.newest = 0  # the latest item time, microseconds
        self.visible = 0  # docs [0, visible) are whole; searches read only those
        self.live = 0
        self.dead = 0
        self.title_total = 0
        self.summary_total = 0
        self._sorted_terms: tuple[int, list[str], int, list[str]] = (0, [], 0, [])

    def doc_of(self, seq: int) -> int | None:
        """The live doc number of the item with this seq, or None."""
        doc = self.unordered_docs.get(seq)
        if doc is None:
            seqs = self.ordered_seqs
            at = bisect_left(seqs, seq)
            if at == len(seqs) or seqs[at] != seq:
                return None
            doc = self.ordered_docs[at]
        return doc if self.alive[doc] and self.seqs[doc] == seq else None

    def set_doc_of(self, seq: int, doc: int) -> None:
        if not self.ordered_seqs or seq > self.ordered_seqs[-1]:
            self.ordered_docs.append(doc)  # before the seq: a search that finds one finds both
            self.ordered_seqs.append(seq)
        else:
            self.unordered_docs[seq] = doc

    # New entries are appended to the lists before their id is published in
    # the dict: a search that finds an id finds what it points to.

    def term_id(self, term: str) -> int:
        found = self.term_ids.get(term)
        if found is None:
            found = len(self.terms)
            self.term_codes.append(_varint(found))
            self.postings.append(array("I"))
            self.impacts.append(bytearray())
            self.terms.append(term)
            if is_cjk(term):
                self.cjk_terms.append(found)
            self.term_ids[term] = found
        return found

    def feed_index(self, feed_id: str) -> int:
        found = self.feed_ids.get(feed_id)
        if found is None:
            found = len(self.feed_names)
            self.feed_docs.append(array("I"))
            self.feed_names.append(feed_id)
            self.feed_ids[feed_id] = found
        return found

    def tagset_index(self, tags: frozenset[str]) -> int:
        found = self.tagset_ids.get(tags)
        if found is None:
            found = len(self.tagset_list)
            self.tagset_list.append(tags)
            self.tagset_ids[tags] = found
        return found

    def sorted_terms(self) -> tuple[list[str], list[str]]:
        """The vocabulary sorted, for wildcards: a large list and one of recent terms.

        Sorting 100,000 terms takes tens of milliseconds: it is done again
        only when the recent list outgrows an eighth of the large one. A
        search may race another and both build it, which is harmless.
        """
        base_size, base, size, recent = self._sorted_terms
        if size != len(self.terms):
            size = len(self.terms)
            if size - base_size > base_size // 8:
                base_size, base, recent = size, sorted(self.terms[:size]), []
            else:
                recent = sorted(self.terms[base_size:size])
            self._sorted_terms = (base_size, base, size, recent)
        return base, recent


@dataclass(slots=True)
class _Analyzed:
    """An item's terms, counted outside the write lock."""

    item: Item
    title: list[str]
    summary: list[str]
    plurals: set[str]  # unstemmed forms that differ from their stem, each with _FORM_MARK
    tags: frozenset[str]


_NO_TAGS: frozenset[str] = frozenset()


def _analyze_item(item: Item) -> _Analyzed:
    raw = fold_and_tokenize(item.title)[1]
    title = _stem_all(raw)
    raw_summary = fold_and_tokenize(item.summary)[1]
    summary = _stem_all(raw_summary)
    raw += raw_summary
    plurals = {
        _FORM_MARK + form for form, stem in zip(raw, title + summary, strict=True) if form != stem
    }
    tags = frozenset(fold_text(tag).strip() for tag in item.tags) if item.tags else _NO_TAGS
    return _Analyzed(item, title, summary, plurals, tags)


# --------------------------------------------------------------------------- the index


class SearchIndex:
    """Items indexed for ranked search; see the module docstring.

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
        self._seg = _Segment()
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
        analyzed: list[_Analyzed] = []
        unstored: list[Item] = []
        for item in items:
            if item.seq > 0:
                analyzed.append(_analyze_item(item))
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
            title_total = seg.title_total + sum(min(len(a.title), _LENGTH_CAP) for a in analyzed)
            summary_total = seg.summary_total + sum(
                min(len(a.summary), _LENGTH_CAP) for a in analyzed
            )
            # Averages over what the index will hold, this batch included;
            # max(1, ...) keeps a corpus without summaries from dividing by 0.
            avg_title = max(1.0, title_total / count)
            avg_summary = max(1.0, summary_total / count)
            for entry in analyzed:
                self._append(seg, entry, avg_title, avg_summary)
            self._compact_if_worth_it()

    def _append(
        self, seg: _Segment, entry: _Analyzed, avg_title: float, avg_summary: float
    ) -> None:
        item = entry.item
        if seg.doc_of(item.seq) is not None:
            self._remove_locked(seg, item.seq)
        doc = len(seg.seqs)
        title_len = min(len(entry.title), _LENGTH_CAP)
        summary_len = min(len(entry.summary), _LENGTH_CAP)
        norm_title = TITLE_WEIGHT / (1 - B + B * title_len / avg_title)
        norm_summary = SUMMARY_WEIGHT / (1 - B + B * summary_len / avg_summary)
        # The hot loop of indexing. Ids are never 0, so `or` only calls on a miss.
        get, new = seg.term_ids.get, seg.term_id
        title_ids = [get(term) or new(term) for term in entry.title]
        summary_ids = [get(term) or new(term) for term in entry.summary]
        codes = seg.term_codes.__getitem__
        seg.forward += b"".join(map(codes, title_ids))
        seg.forward.append(0)
        seg.forward += b"".join(map(codes, summary_ids))
        seg.forward_end.append(len(seg.forward))
        # A doc has few distinct (tf, tf) pairs: compute each impact once.
        impacts: dict[int, int] = {}
        postings, impact_lists = seg.postings, seg.impacts
        for term_id, code in _count_terms(title_ids, summary_ids).items():
            impact = impacts.get(code)
            if impact is None:
                impact = impacts[code] = _impact(code, norm_title, norm_summary)
            postings[term_id].append(doc)
            impact_lists[term_id].append(impact)
        for form in entry.plurals:  # listed only, never scored
            term_id = get(form) or new(form)
            postings[term_id].append(doc)
            impact_lists[term_id].append(1)
        feed = seg.feed_index(item.feed_id)
        seg.feed_docs[feed].append(doc)
        for tag in entry.tags:
            seg.tag_docs.setdefault(tag, array("I")).append(doc)
        story = _story_of(item)
        shared = 0
        if story != item.seq:
            seg.copies.setdefault(story, []).append(doc)
            shared = 1
            primary = seg.doc_of(story)
            if primary is not None:
                seg.shared[primary] = 1
        elif seg.copies.get(story):
            shared = 1
        when = _micros(item.when)
        seg.day_docs.setdefault(when // _DAY_US, array("I")).append(doc)
        seg.seqs.append(item.seq)
        seg.whens.append(when)
        seg.newest = max(seg.newest, when)
        seg.feeds.append(feed)
        seg.tagsets.append(seg.tagset_index(entry.tags))
        seg.stories.append(story)
        seg.title_lens.append(title_len)
        seg.summary_lens.append(summary_len)
        seg.alive.append(1)
        seg.shared.append(shared)
        if self._load_items is None:
            self._items[item.seq] = item
        seg.set_doc_of(item.seq, doc)
        seg.live += 1
        seg.title_total += title_len
        seg.summary_total += summary_len
        # Last: from here on searches see the doc, every part of it written.
        seg.visible = doc + 1

    def remove(self, seq: int) -> bool:
        """Drop the item with this seq from the index; return whether it was there."""
        with self._write_lock:
            seg = self._seg
            if seg.doc_of(seq) is None:
                return False
            self._remove_locked(seg, seq)
            self._compact_if_worth_it()
            return True

    def _compact_if_worth_it(self) -> None:
        # Under the write lock. A quarter of dead slots: removed items cost
        # memory and time in every posting list they were in.
        seg = self._seg
        if seg.dead > 1024 and seg.dead * 4 > len(seg.seqs):
            self._seg = _compact(seg)

    def _remove_locked(self, seg: _Segment, seq: int) -> None:
        doc = seg.doc_of(seq)
        if doc is None:
            return
        seg.unordered_docs.pop(seq, None)
        seg.alive[doc] = 0
        seg.live -= 1
        seg.dead += 1
        seg.title_total -= seg.title_lens[doc]
        seg.summary_total -= seg.summary_lens[doc]
        story = seg.stories[doc]
        copies = seg.copies.get(story)
        if copies is not None and doc in copies:
            copies.remove(doc)
            if not copies:
                del seg.copies[story]
        self._items.pop(seq, None)

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

        Raises `bot.find.query.QueryError` (its text is for the user) when the line
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
        now = _aware(now)
        run = _SearchRun(self, self._seg, query, now)
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

    # ------------------------------------------------------------------ for _SearchRun

    def _fetch(self, seqs: Sequence[int]) -> dict[int, Item]:
        if self._load_items is None:
            items = self._items
            return {seq: found for seq in seqs if (found := items.get(seq)) is not None}
        return {item.seq: item for item in self._load_items(list(seqs))}

    def _tags_of_feed(self, feed_id: str) -> tuple[str, ...]:
        return self._feed_tags.get(feed_id, ())


def _compact(old: _Segment) -> _Segment:
    """Return a copy of `old` without its removed docs, renumbered densely."""
    new = _Segment()
    remap = array("q", [-1]) * len(old.seqs)
    for doc in compress(range(old.visible), old.alive):
        remap[doc] = len(new.seqs)
        new.seqs.append(old.seqs[doc])
        new.whens.append(old.whens[doc])
        new.feeds.append(old.feeds[doc])
        new.tagsets.append(old.tagsets[doc])
        new.stories.append(old.stories[doc])
        new.title_lens.append(old.title_lens[doc])
        new.summary_lens.append(old.summary_lens[doc])
        new.alive.append(1)
        new.shared.append(old.shared[doc])
        start = old.forward_end[doc - 1] if doc else 0
        new.forward += old.forward[start : old.forward_end[doc]]
        new.forward_end.append(len(new.forward))
    # Term ids are kept (a term whose docs are all gone keeps an empty list),
    # so `forward` needs no renumbering.
    # Copies, not shared: searches still reading `old` must not see terms
    # added to `new` (they would index past old.postings).
    new.terms, new.term_ids = list(old.terms), dict(old.term_ids)
    new.term_codes = list(old.term_codes)
    new.cjk_terms = list(old.cjk_terms)
    new.postings, new.impacts = [], []
    for docs, impacts in zip(old.postings, old.impacts, strict=True):
        kept = [(remap[d], imp) for d, imp in zip(docs, impacts, strict=True) if remap[d] >= 0]
        new.postings.append(array("I", (d for d, _ in kept)))
        new.impacts.append(bytearray(imp for _, imp in kept))
    new.feed_names, new.feed_ids = list(old.feed_names), dict(old.feed_ids)
    new.feed_docs = [
        array("I", (remap[d] for d in docs if remap[d] >= 0)) for docs in old.feed_docs
    ]
    new.tagset_list, new.tagset_ids = list(old.tagset_list), dict(old.tagset_ids)
    for tag, docs in old.tag_docs.items():
        kept_docs = array("I", (remap[d] for d in docs if remap[d] >= 0))
        if kept_docs:
            new.tag_docs[tag] = kept_docs
    for day, docs in old.day_docs.items():
        kept_docs = array("I", (remap[d] for d in docs if remap[d] >= 0))
        if kept_docs:
            new.day_docs[day] = kept_docs
    for doc, seq in enumerate(new.seqs):
        new.set_doc_of(seq, doc)
    new.copies = {
        story: [remap[d] for d in docs if remap[d] >= 0] for story, docs in old.copies.items()
    }
    new.newest = old.newest
    new.visible = len(new.seqs)
    new.live = len(new.seqs)
    new.title_total, new.summary_total = old.title_total, old.summary_total
    log.info("search index: compacted %d removed items away", old.dead)
    return new


# --------------------------------------------------------------------------- one search

_Sets = tuple[set[int], set[int]]  # (surely matching, maybe matching) doc numbers


class _SearchRun:
    """The state of one search: a snapshot of the segment and what it learned."""

    def __init__(self, index: SearchIndex, seg: _Segment, query: Query, now: datetime) -> None:
        self.index = index
        self.seg = seg
        self.visible = seg.visible  # read once: the docs this search sees
        self.query = query
        self.now = now
        self.now_us = _micros(now)
        self.verified: dict[int, bool] = {}
        self.items: dict[int, Item] = {}
        self.expansions: dict[str, _Expansion] = {}

    # ---------------------------------------------------------------- sets

    def docs_of(self, term_id: int) -> array[int]:
        return self.visible_docs(self.seg.postings[term_id])

    def docs_in(self, docs: Iterable[int], universe: set[int] | None) -> set[int]:
        if universe is None:
            return set(docs)
        return universe.intersection(docs)

    def all_docs(self) -> set[int]:
        return set(compress(range(self.visible), self.seg.alive))

    def term_docs(self, term: str, universe: set[int] | None) -> set[int]:
        term_id = self.seg.term_ids.get(term)
        if term_id is None:
            return set()
        docs = self.seg.postings[term_id]
        if universe is not None and len(universe) * 16 < len(docs):
            # Few candidates, long postings: look each candidate up (the
            # postings up to a visible doc do not change).
            return {d for d in universe if _contains(docs, d)}
        return self.docs_in(self.visible_docs(docs), universe)

    def union_docs(self, term_ids: Iterable[int], universe: set[int] | None) -> set[int]:
        found: set[int] = set()
        for term_id in term_ids:
            found.update(self.docs_of(term_id))
        return found if universe is None else found & universe

    def expand(self, prefix: str) -> _Expansion:
        """What a wildcard's last word expands to in the index (see `_Expansion`)."""
        cached = self.expansions.get(prefix)
        if cached is not None:
            return cached
        seg = self.seg
        stems = self.ids_in(_starting_with(seg.sorted_terms(), prefix))
        forms = self.ids_in(_starting_with(seg.sorted_terms(), _FORM_MARK + prefix))
        known = set(stems)
        # "=chips" -> "chip": strip the mark, stem.
        form_stems = self.ids_in({stem_token(seg.terms[form][1:]) for form in forms})
        found = _Expansion(stems, forms, [term for term in form_stems if term not in known])
        self.expansions[prefix] = found
        return found

    def ids_in(self, terms: Iterable[str]) -> list[int]:
        term_ids = self.seg.term_ids
        return [term_id for term in terms if (term_id := term_ids.get(term)) is not None]

    def chars_terms(self, chars: str) -> list[int]:
        seg = self.seg
        return [term_id for term_id in list(seg.cjk_terms) if chars in seg.terms[term_id]]

    def evaluate(self, node: Node, universe: set[int] | None) -> _Sets:
        """Return the docs of `universe` (None: all) that match `node`, surely and maybe."""
        seg = self.seg
        if isinstance(node, Word):
            return self.term_docs(node.token, universe), set()
        if isinstance(node, Chars):
            return self.union_docs(self.chars_terms(node.text), universe), set()
        if isinstance(node, Phrase):
            return self.phrase_docs(node.tokens, universe), set()
        if isinstance(node, Prefix):
            expansion = self.expand(node.prefix)
            if not node.head:
                return self.union_docs(expansion.stems + expansion.forms, universe), set()
            within = self.union_docs(expansion.stems + expansion.form_stems, universe)
            return self.prefix_phrase_docs(node.head, expansion.stems, expansion.form_stems, within)
        if isinstance(node, FeedIs):
            feed = seg.feed_ids.get(node.feed_id)
            if feed is None:
                return set(), set()
            if universe is None:
                return self.docs_in(self.visible_docs(seg.feed_docs[feed]), None), set()
            feeds = seg.feeds
            return {d for d in universe if feeds[d] == feed}, set()
        if isinstance(node, TagIs):
            return self.tag_docs(node.tag, universe), set()
        if isinstance(node, TimeBound):
            return self.time_docs(node, universe), set()
        if isinstance(node, Not):
            base = self.all_docs() if universe is None else universe
            sure, maybe = self.evaluate(node.child, base)
            return base - sure - maybe, maybe
        if isinstance(node, And):
            return self.evaluate_and(node, universe)
        sure_all: set[int] = set()
        maybe_all: set[int] = set()
        for child in node.children:
            sure, maybe = self.evaluate(child, universe)
            sure_all |= sure
            maybe_all |= maybe
        return sure_all, maybe_all - sure_all

    def evaluate_and(self, node: And, universe: set[int] | None) -> _Sets:
        sure: set[int] | None = universe
        maybe: set[int] = set()
        for child in sorted(node.children, key=self.cost):
            within = None if sure is None else sure | maybe
            child_sure, child_maybe = self.evaluate(child, within)
            if sure is None:
                sure, maybe = child_sure, child_maybe
            else:
                # Sure only where both are sure; maybe where either is.
                sure, maybe = child_sure - maybe, child_maybe | (child_sure & maybe)
            if not sure and not maybe:
                break
        return sure if sure is not None else set(), maybe

    def phrase_docs(self, tokens: tuple[str, ...], universe: set[int] | None) -> set[int]:
        """Docs of `universe` whose title or summary has these terms side by side."""
        term_ids = self.ids_of(tokens)
        if term_ids is None:
            return set()
        within = universe
        for token in sorted(set(tokens), key=self.df):
            within = self.term_docs(token, within)
            if not within:
                return set()
        needle = self.encode(term_ids)
        # One loop, no call per doc: phrase checks run over thousands of docs.
        forward, ends = self.seg.forward, self.seg.forward_end
        found: set[int] = set()
        for doc in within or ():
            start, end = ends[doc - 1] if doc else 0, ends[doc]
            at = forward.find(needle, start, end)
            # An id starts where the previous one ended: after a byte below 0x80.
            while at > start and forward[at - 1] & 0x80:
                at = forward.find(needle, at + 1, end)
            if at >= 0:
                found.add(doc)
        return found

    def prefix_phrase_docs(
        self, head: tuple[str, ...], sure_ids: list[int], maybe_ids: list[int], within: set[int]
    ) -> _Sets:
        """Docs with the head terms side by side, then a term the wildcard expands to."""
        head_ids = self.ids_of(head)
        if head_ids is None:
            return set(), set()
        for token in sorted(set(head), key=self.df):
            within = self.term_docs(token, within)
        needle = self.encode(head_ids)
        sure_set, maybe_set = set(sure_ids), set(maybe_ids)
        sure: set[int] = set()
        maybe: set[int] = set()
        for doc in within:
            followers = self.followers_in_doc(doc, needle)
            if not sure_set.isdisjoint(followers):
                sure.add(doc)
            elif not maybe_set.isdisjoint(followers):
                maybe.add(doc)
        return sure, maybe

    def ids_of(self, tokens: Iterable[str]) -> list[int] | None:
        """The term ids of `tokens`, or None when one is not in the index."""
        term_ids = self.seg.term_ids
        found: list[int] = []
        for token in tokens:
            term_id = term_ids.get(token)
            if term_id is None:
                return None
            found.append(term_id)
        return found

    def encode(self, term_ids: list[int]) -> bytes:
        return b"".join(map(self.seg.term_codes.__getitem__, term_ids))

    def doc_bytes(self, doc: int) -> bytearray:
        ends = self.seg.forward_end
        return self.seg.forward[ends[doc - 1] if doc else 0 : ends[doc]]

    def followers_in_doc(self, doc: int, needle: bytes) -> list[int]:
        """The term ids right after each occurrence of `needle` in the doc."""
        haystack = self.doc_bytes(doc)
        found: list[int] = []
        at = haystack.find(needle)
        while at >= 0:
            after = at + len(needle)
            if (at == 0 or not haystack[at - 1] & 0x80) and after < len(haystack):
                found.append(_read_varint(haystack, after))
            at = haystack.find(needle, at + 1)
        return found

    def visible_docs(self, docs: array[int]) -> array[int]:
        """A copy of the visible part of a doc list.

        A copy, always: a writer may append to `docs` while the caller
        iterates, and what it appends is not whole yet.
        """
        return docs[: bisect_left(docs, self.visible)]

    def tag_docs(self, tag: str, universe: set[int] | None) -> set[int]:
        seg = self.seg
        feeds_with_tag = {
            feed_index
            for feed in self.index._tag_feeds.get(tag, ())
            if (feed_index := seg.feed_ids.get(feed)) is not None
        }
        if universe is None:
            found = set(self.visible_docs(seg.tag_docs.get(tag, array("I"))))
            for feed in feeds_with_tag:
                found.update(self.visible_docs(seg.feed_docs[feed]))
            return found
        tagsets, feeds, tagset_list = seg.tagsets, seg.feeds, seg.tagset_list
        with_tag = {i for i, tags in enumerate(tagset_list) if tag in tags}
        return {d for d in universe if tagsets[d] in with_tag or feeds[d] in feeds_with_tag}

    def time_docs(self, node: TimeBound, universe: set[int] | None) -> set[int]:
        bound = _micros(node.resolve(self.now))
        whens = self.seg.whens
        since = node.field == "since"
        if universe is None:
            # Whole days inside the bound come in bulk; only the bound's own
            # day is checked doc by doc.
            found: set[int] = set()
            bound_day = bound // _DAY_US
            for day, day_docs in list(self.seg.day_docs.items()):
                if (day > bound_day) if since else (day < bound_day):
                    found.update(self.visible_docs(day_docs))
                elif day == bound_day:
                    universe_day = self.visible_docs(day_docs)
                    found.update(d for d in universe_day if (whens[d] >= bound) is since)
            return found
        if since:
            return {d for d in universe if whens[d] >= bound}
        return {d for d in universe if whens[d] < bound}

    def df(self, term: str) -> int:
        term_id = self.seg.term_ids.get(term)
        return 0 if term_id is None else len(self.seg.postings[term_id])

    def cost(self, node: Node) -> tuple[int, int]:
        """Sort key of AND's children: the smallest sets first, NOT and time scans last."""
        if isinstance(node, Word):
            return (0, self.df(node.token))
        if isinstance(node, Phrase):
            return (0, min(self.df(token) for token in node.tokens))
        if isinstance(node, Prefix | Chars):
            return (1, 0)
        if isinstance(node, FeedIs):
            feed = self.seg.feed_ids.get(node.feed_id)
            return (0, 0 if feed is None else len(self.seg.feed_docs[feed]))
        if isinstance(node, TagIs):
            return (2, 0)
        if isinstance(node, Or):
            return (3, 0)
        if isinstance(node, And):
            return min(self.cost(child) for child in node.children)
        return (4, 0)  # TimeBound and Not want a universe to work within

    # ---------------------------------------------------------------- scoring

    def score(self, candidates: set[int]) -> dict[int, float]:
        """Return each candidate's BM25F score, in impact units (see `boost`).

        The hot loop of searching, over every posting of every query term:
        written out flat, without helper calls per posting.
        """
        seg = self.seg
        count = max(seg.live, 1)
        totals: dict[int, float] = dict.fromkeys(candidates, 0.0)
        few = len(candidates) * 16
        for group in self.term_groups():
            best: dict[int, float] = {}
            for term_id in group.term_ids:
                docs, impacts = seg.postings[term_id], seg.impacts[term_id]
                df = min(len(docs), count)
                idf = math.log(1 + (count - df + 0.5) / (df + 0.5))
                if few < len(docs):
                    # Few candidates, long postings: look each candidate up.
                    found = []
                    for doc in candidates:
                        at = bisect_left(docs, doc)
                        if at < len(docs) and docs[at] == doc:
                            found.append((doc, impacts[at]))
                    pairs: Iterable[tuple[int, int]] = found
                else:
                    pairs = zip(docs, impacts, strict=False)
                if group.best_only:
                    for doc, impact in pairs:
                        if doc in totals and idf * impact > best.get(doc, 0.0):
                            best[doc] = idf * impact
                else:
                    for doc, impact in pairs:
                        if doc in totals:
                            totals[doc] += idf * impact
            for doc, value in best.items():
                totals[doc] += value
        return totals

    def boost(self, bm25: Mapping[int, float]) -> dict[int, float]:
        """Return the final scores: BM25F (in impact units) times the recency boost."""
        whens, now_us, exp = self.seg.whens, self.now_us, math.exp
        decay = -math.log(2) / _HALF_LIFE_US
        scale, weight = 1 / _IMPACT_SCALE, RECENCY_WEIGHT / _IMPACT_SCALE
        if self.seg.newest <= now_us:
            # The usual case, in one comprehension: no item is dated after `now`.
            return {
                d: value * (scale + weight * exp(decay * (now_us - whens[d])))
                for d, value in bm25.items()
            }
        # Items dated in the future count as fresh as it gets.
        return {
            d: value * (scale + weight * exp(decay * max(0, now_us - whens[d])))
            for d, value in bm25.items()
        }

    def ranking(self, candidates: set[int], first: int) -> Iterator[tuple[int, float]]:
        """Yield (doc, score) best first: score, then newer, then the later seq.

        Only the top `first` need be right quickly. The boost is at most
        1 + RECENCY_WEIGHT, so a doc whose BM25F times that stays under the
        `first`-th best BM25F cannot be among them: those docs are scored in
        full (and all sorted) only if the walk goes past `first`.
        """
        whens, seqs = self.seg.whens, self.seg.seqs
        if not self.query.positive_terms():
            # Filters only: newest first. Tuples compare in C.
            entries = [(whens[d], seqs[d], d) for d in candidates]
            for _, _, doc in heapq.nlargest(first, entries):
                yield doc, 0.0
            if len(entries) > first:
                entries.sort(reverse=True)
                for _, _, doc in entries[first:]:
                    yield doc, 0.0
            return
        bm25 = self.score(candidates)
        head = bm25
        if len(bm25) > first:
            bar = heapq.nlargest(first, bm25.values())[-1] / (1 + RECENCY_WEIGHT)
            head = {doc: value for doc, value in bm25.items() if value >= bar}
        ranked = sorted(
            ((value, whens[d], seqs[d], d) for d, value in self.boost(head).items()),
            reverse=True,
        )
        if len(head) == len(bm25):
            for value, _, _, doc in ranked:
                yield doc, value
            return
        for value, _, _, doc in ranked[:first]:
            yield doc, value
        ranked = sorted(
            ((value, whens[d], seqs[d], d) for d, value in self.boost(bm25).items()),
            reverse=True,
        )
        for value, _, _, doc in ranked[first:]:
            yield doc, value

    def term_groups(self) -> list[_TermGroup]:
        """The positive terms as term ids: a word, a phrase's words, a wildcard's expansions."""
        seg = self.seg
        groups: list[_TermGroup] = []
        for term in self.query.positive_terms():
            if term.endswith("*"):
                *head, prefix = term[:-1].split(" ")
                expansion = self.expand(prefix)
                ids = tuple(expansion.stems + expansion.form_stems)
                groups.append(_TermGroup(ids, best_only=True))
                head_ids = tuple(seg.term_ids[t] for t in head if t in seg.term_ids)
                if head_ids:
                    groups.append(_TermGroup(head_ids, best_only=False))
            elif len(term) == 1 and is_cjk(term):
                groups.append(_TermGroup(tuple(self.chars_terms(term)), best_only=True))
            else:
                ids = tuple(seg.term_ids[t] for t in term.split(" ") if t in seg.term_ids)
                if ids:
                    groups.append(_TermGroup(ids, best_only=False))
        return groups

    # ---------------------------------------------------------------- confirming

    def load(self, docs: Iterable[int]) -> None:
        seqs = self.seg.seqs
        wanted = [seqs[d] for d in docs if seqs[d] not in self.items]
        if wanted:
            self.items.update(self.index._fetch(wanted))

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
                _prepare_doc_fast(item, self.index._tags_of_feed(item.feed_id)), now=self.now
            )
            self.verified[doc] = found
        return found

    def confirm(self, item: Item) -> bool:
        """The final check of a hit: `Query.matches` on the item as the query module sees it."""
        doc = _prepare_doc_fast(item, self.index._tags_of_feed(item.feed_id))
        return self.query.matches(doc, now=self.now)

    # ---------------------------------------------------------------- the whole search

    def execute(self, offset: int, limit: int) -> tuple[list[SearchHit], int, bool]:
        seg = self.seg
        sure, maybe = self.evaluate(self.query.root, None)
        if seg.dead:
            alive = seg.alive
            sure = {d for d in sure if alive[d]}
            maybe = {d for d in maybe if alive[d]}
        candidates = sure | maybe
        if not candidates:
            return [], 0, True
        stories = seg.stories
        seen_stories: set[int] = set()
        highlighter = _Highlighter(self.query)
        hits: list[SearchHit] = []
        dropped = 0  # removed since the search began
        budget = MAX_VERIFY - _ESTIMATE_SAMPLE  # the rest is kept for the total
        # Walk the ranking: the best matching doc of each story, once per
        # story; stories before `offset` are counted, not built.
        for doc, score in self.ranking(candidates, (offset + limit) * 2 + 8):
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
        self, best: int, score: float, sure: set[int], maybe: set[int], highlighter: _Highlighter
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
        snippet, spans = highlighter.snippet(item)
        return SearchHit(
            item=item,
            score=score,
            snippet=snippet,
            spans=spans,
            title_spans=highlighter.spans(item.title),
            also_in=self.also_in(show, item.feed_id),
        )

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


@dataclass(frozen=True, slots=True)
class _Expansion:
    """A wildcard's prefix in the index.

    `stems`: terms starting with the prefix. `forms`: the "=form" terms of
    unstemmed plurals starting with it (`chips*` is "=chips"; "chip" is not).
    `form_stems`: the stems of those forms not already in `stems`, for
    scoring, and for a wildcard after other words (`export-contr*`), whose
    unstemmed match the forward index (stems only) can only suspect.
    """

    stems: list[int]
    forms: list[int]
    form_stems: list[int]


@dataclass(frozen=True, slots=True)
class _TermGroup:
    term_ids: tuple[int, ...]
    best_only: bool  # a wildcard scores by its best expansion, not their sum


def _contains(docs: array[int], doc: int) -> bool:
    i = bisect_left(docs, doc)
    return i < len(docs) and docs[i] == doc


def _starting_with(sorted_lists: Iterable[list[str]], prefix: str) -> Iterator[str]:
    """The words of these sorted lists that start with `prefix`."""
    for words in sorted_lists:
        for i in range(bisect_left(words, prefix), len(words)):
            word = words[i]
            if not word.startswith(prefix):
                break
            yield word


# --------------------------------------------------------------------------- snippets


class _Highlighter:
    """Finds the query's positive terms in original text, for snippets and bolding."""

    def __init__(self, query: Query) -> None:
        self.words: set[str] = set()
        self.phrases: list[tuple[str, ...]] = []
        self.prefixes: list[tuple[tuple[str, ...], str]] = []
        self.cjk: list[str] = []
        for term in query.positive_terms():
            if term.endswith("*"):
                *head, prefix = term[:-1].split(" ")
                self.prefixes.append((tuple(head), prefix))
            elif len(term) == 1 and is_cjk(term):
                self.cjk.append(term)
            elif " " in term:
                tokens = tuple(term.split(" "))
                if all(is_cjk(token) for token in tokens):
                    self.cjk.append(tokens[0] + "".join(token[-1] for token in tokens[1:]))
                else:
                    self.phrases.append(tokens)
            elif is_cjk(term):
                self.cjk.append(term)
            else:
                self.words.add(term)

    def spans(self, text: str) -> tuple[Span, ...]:
        """Offsets in `text` of the words that match the query's positive terms."""
        found: list[Span] = []
        tokens = _tokens_with_offsets(text)
        if self.cjk:
            for run in _RUN_RE.finditer(text):
                folded = fold_text(run.group())
                if any(word in folded for word in self.cjk):
                    found.append(run.span())
        stems = [token[0] for token in tokens]
        for i, (stem, _, start, end) in enumerate(tokens):
            if stem in self.words:
                found.append((start, end))
            for phrase in self.phrases:
                if stem == phrase[0] and tuple(stems[i : i + len(phrase)]) == phrase:
                    found.append((start, tokens[i + len(phrase) - 1][3]))
            for head, prefix in self.prefixes:
                at = i + len(head)
                if at < len(tokens) and tuple(stems[i:at]) == head:
                    last_stem, last_raw, _, last_end = tokens[at]
                    if last_stem.startswith(prefix) or last_raw.startswith(prefix):
                        found.append((start, last_end))
        return _merge(found)

    def snippet(self, item: Item) -> tuple[str, tuple[Span, ...]]:
        """About SNIPPET_CHARS of the summary (else the title) around the first match."""
        text = item.summary or item.title
        spans = self.spans(text)
        return _window(text, spans)


def _tokens_with_offsets(text: str) -> list[tuple[str, str, int, int]]:
    """(stem, raw token, start, end) of each token of `text`, offsets in `text` itself."""
    if text.isascii():
        found = ascii_token_spans(text)
        stems = _stem_all([raw for raw, _, _ in found])
        return [
            (stem, raw, start, end) for stem, (raw, start, end) in zip(stems, found, strict=True)
        ]
    # Folding may change lengths ("ﬁ" is "fi"): analyze each run of word
    # characters alone and give its tokens the run's offsets.
    tokens: list[tuple[str, str, int, int]] = []
    for run in _RUN_RE.finditer(text):
        raw, stems = _analyze_fast(run.group())
        start, end = run.span()
        tokens.extend((stem, token, start, end) for stem, token in zip(stems, raw, strict=True))
    return tokens


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _window(text: str, spans: tuple[Span, ...]) -> tuple[str, tuple[Span, ...]]:
    """Cut `text` to about SNIPPET_CHARS around its first span, on word boundaries."""
    if len(text) <= SNIPPET_CHARS:
        return text, spans
    first_start, first_end = spans[0] if spans else (0, 0)
    start = 0
    if first_start > SNIPPET_CHARS // 3:
        # Some context before the match, starting at a word.
        start = first_start - SNIPPET_CHARS // 3
        space = text.find(" ", start, first_start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", max(first_end, start + 1), end + 1)
        if space > start:
            end = space
    piece = text[start:end].rstrip()
    lead = _ELLIPSIS if start > 0 else ""
    tail = _ELLIPSIS if start + len(piece) < len(text) else ""
    shift = len(lead) - start
    kept = tuple(
        (s + shift, min(e, start + len(piece)) + shift)
        for s, e in spans
        if s >= start and s < start + len(piece)
    )
    return f"{lead}{piece}{tail}", kept
