"""The query's tree evaluated over the index: the docs that surely match, and those only suspected.

Agreement with the query language: the query's tree (`Query.root`) is
evaluated over the index, exactly: words, phrases (side by side in the forward
index, never across title and summary), wildcards (plural forms like "chips"
are also listed under a "=chips" term, as `chips*` must not match "chip"),
single CJK characters, feed/tag/time filters, AND/OR/NOT. One case is only
suspected: a wildcard after other words whose prefix fits an unstemmed plural
(`export-controls*`), as the forward index holds stems. Suspects are checked
with `Query.matches` by the search run (see `bot.find.search.run`).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import compress

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
from bot.find.search.analysis import FORM_MARK
from bot.find.search.segment import DAY_US, Segment, micros, read_varint
from bot.find.textindex import stem_token

__all__ = ["Evaluator", "Expansion", "Sets"]

Sets = tuple[set[int], set[int]]  # (surely matching, maybe matching) doc numbers


class Evaluator:
    """Doc sets of one search over a snapshot of the segment (the docs visible at its start).

    `feeds_with_tag(tag)` gives the feeds whose feed tags include that folded tag.
    """

    def __init__(
        self, seg: Segment, now: datetime, feeds_with_tag: Callable[[str], Iterable[str]]
    ) -> None:
        self.seg = seg
        self.visible = seg.visible  # read once: the docs this search sees
        self.now = now
        self.feeds_with_tag = feeds_with_tag
        self.expansions: dict[str, Expansion] = {}

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

    def expand(self, prefix: str) -> Expansion:
        """What a wildcard's last word expands to in the index (see `Expansion`)."""
        cached = self.expansions.get(prefix)
        if cached is not None:
            return cached
        seg = self.seg
        stems = self.ids_in(_starting_with(seg.sorted_terms(), prefix))
        forms = self.ids_in(_starting_with(seg.sorted_terms(), FORM_MARK + prefix))
        known = set(stems)
        # "=chips" -> "chip": strip the mark, stem.
        form_stems = self.ids_in({stem_token(seg.terms[form][1:]) for form in forms})
        found = Expansion(stems, forms, [term for term in form_stems if term not in known])
        self.expansions[prefix] = found
        return found

    def ids_in(self, terms: Iterable[str]) -> list[int]:
        term_ids = self.seg.term_ids
        return [term_id for term in terms if (term_id := term_ids.get(term)) is not None]

    def chars_terms(self, chars: str) -> list[int]:
        seg = self.seg
        return [term_id for term_id in list(seg.cjk_terms) if chars in seg.terms[term_id]]

    def evaluate(self, node: Node, universe: set[int] | None) -> Sets:
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

    def evaluate_and(self, node: And, universe: set[int] | None) -> Sets:
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
    ) -> Sets:
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
                found.append(read_varint(haystack, after))
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
            for feed in self.feeds_with_tag(tag)
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
        bound = micros(node.resolve(self.now))
        whens = self.seg.whens
        since = node.field == "since"
        if universe is None:
            # Whole days inside the bound come in bulk; only the bound's own
            # day is checked doc by doc.
            found: set[int] = set()
            bound_day = bound // DAY_US
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


@dataclass(frozen=True, slots=True)
class Expansion:
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
