"""The search index's data: arrays per term, per doc and per feed, read by searches without locks.

What a `Segment` holds, with no Python object per posting or per doc:

- per term, the ascending doc numbers that hold it (`array("I")`) and one
  byte per posting, the term's BM25F impact in that doc;
- per doc, its terms in order as LEB128 varint ids in one `bytearray` (the
  forward index: about 1.5 bytes a word), which phrases are checked against;
- per doc a few numbers: seq, time, feed, tags, story, lengths.

About 80 MB at 100,000 items of 1.3 KB (8 million postings; bench/search_bench.py
measures it).

Threads: the index's one lock serializes writers (`append`, `remove`); searches
take none. A writer appends everything about a doc, then raises the visible-doc
count that a search reads once at its start, and a search copies the visible
part of each list it iterates: it never sees half an item. Removal clears one
byte; once a quarter of the doc numbers are dead, the index rewrites the
segment without them (`compact`) into a new one swapped in by one assignment
(searches under way finish on the old one).
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from datetime import UTC, datetime, timedelta
from itertools import compress

from bot.find.query.nodes import aware
from bot.find.search.analysis import Analyzed
from bot.find.search.bm25f import LENGTH_CAP, count_terms, field_norms, impact
from bot.find.textindex import is_cjk

__all__ = ["DAY_US", "Segment", "compact", "micros", "read_varint", "varint"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
DAY_US = 86_400_000_000


def micros(moment: datetime) -> int:
    """`moment` in microseconds since the epoch, as the index keeps times."""
    return (aware(moment) - _EPOCH) // _MICROSECOND


def varint(value: int) -> bytes:
    """`value` in LEB128: 7 bits a byte, low bits first, 0x80 on all but the last byte."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(data: bytes | bytearray, at: int) -> int:
    """The value of the LEB128 varint that starts at `at`."""
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
        at += 1


class Segment:
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
        self.term_codes: list[bytes] = [varint(0)]
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
            self.term_codes.append(varint(found))
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

    # ---------------------------------------------------------------- writing (under the lock)

    def append(self, entry: Analyzed, avg_title: float, avg_summary: float) -> None:
        """Write `entry` as a new doc, then make it visible; its seq must not be live here.

        Its impacts are computed with these average field lengths (see bm25f).
        """
        item = entry.item
        doc = len(self.seqs)
        title_len = min(len(entry.title), LENGTH_CAP)
        summary_len = min(len(entry.summary), LENGTH_CAP)
        norm_title, norm_summary = field_norms(title_len, summary_len, avg_title, avg_summary)
        self._append_terms(doc, entry, norm_title, norm_summary)
        feed = self.feed_index(item.feed_id)
        self.feed_docs[feed].append(doc)
        for tag in entry.tags:
            self.tag_docs.setdefault(tag, array("I")).append(doc)
        story, shared = self._join_story(doc, item.seq, item.duplicate_of)
        when = micros(item.when)
        self.day_docs.setdefault(when // DAY_US, array("I")).append(doc)
        self.seqs.append(item.seq)
        self.whens.append(when)
        self.newest = max(self.newest, when)
        self.feeds.append(feed)
        self.tagsets.append(self.tagset_index(entry.tags))
        self.stories.append(story)
        self.title_lens.append(title_len)
        self.summary_lens.append(summary_len)
        self.alive.append(1)
        self.shared.append(shared)
        self.set_doc_of(item.seq, doc)
        self.live += 1
        self.title_total += title_len
        self.summary_total += summary_len
        # Last: from here on searches see the doc, every part of it written.
        self.visible = doc + 1

    def _append_terms(
        self, doc: int, entry: Analyzed, norm_title: float, norm_summary: float
    ) -> None:
        """The doc's forward entry, and a posting with its impact for each of its terms."""
        # The hot loop of indexing. Ids are never 0, so `or` only calls on a miss.
        get, new = self.term_ids.get, self.term_id
        title_ids = [get(term) or new(term) for term in entry.title]
        summary_ids = [get(term) or new(term) for term in entry.summary]
        codes = self.term_codes.__getitem__
        self.forward += b"".join(map(codes, title_ids))
        self.forward.append(0)
        self.forward += b"".join(map(codes, summary_ids))
        self.forward_end.append(len(self.forward))
        # A doc has few distinct (tf, tf) pairs: compute each impact once.
        impacts: dict[int, int] = {}
        postings, impact_lists = self.postings, self.impacts
        for term_id, code in count_terms(title_ids, summary_ids).items():
            found = impacts.get(code)
            if found is None:
                found = impacts[code] = impact(code, norm_title, norm_summary)
            postings[term_id].append(doc)
            impact_lists[term_id].append(found)
        for form in entry.plurals:  # listed only, never scored
            term_id = get(form) or new(form)
            postings[term_id].append(doc)
            impact_lists[term_id].append(1)

    def _join_story(self, doc: int, seq: int, primary: int | None) -> tuple[int, int]:
        """Enter `doc` in its story; return the story (its primary's seq) and its `shared` flag.

        `primary` is the seq of the item this one is a copy of, or None.
        """
        if primary is None:
            return seq, 1 if self.copies.get(seq) else 0
        self.copies.setdefault(primary, []).append(doc)
        primary_doc = self.doc_of(primary)
        if primary_doc is not None:
            self.shared[primary_doc] = 1
        return primary, 1

    def remove(self, seq: int) -> bool:
        """Mark the live doc of `seq` removed; return whether there was one."""
        doc = self.doc_of(seq)
        if doc is None:
            return False
        self.unordered_docs.pop(seq, None)
        self.alive[doc] = 0
        self.live -= 1
        self.dead += 1
        self.title_total -= self.title_lens[doc]
        self.summary_total -= self.summary_lens[doc]
        story = self.stories[doc]
        copies = self.copies.get(story)
        if copies is not None and doc in copies:
            copies.remove(doc)
            if not copies:
                del self.copies[story]
        return True


def compact(old: Segment) -> Segment:
    """Return a copy of `old` without its removed docs, renumbered densely."""
    new = Segment()
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
