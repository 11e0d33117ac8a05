"""Ranking the matching docs: BM25F (see `bm25f`) times a bounded recency boost.

Recency multiplies the BM25F score by `1 + 0.5 * 2 ** (-age / 14 days)`: an
item from today weighs 1.5 times the same match from months ago, two weeks old
1.25 times; an item dated in the future counts as new. Ties go to the newer
item. A query without positive terms (filters or NOTs only, `feed:fr-bis
since:7d`) lists the newest matching items, score 0. The boost is bounded, so
only docs whose BM25F could still reach the page are boosted and sorted.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.find.query.matcher import Query
from bot.find.search.bm25f import IMPACT_SCALE
from bot.find.search.evaluate import Evaluator
from bot.find.search.segment import Segment
from bot.find.textindex import is_cjk

__all__ = ["RECENCY_HALF_LIFE", "RECENCY_WEIGHT", "Ranker"]

RECENCY_WEIGHT = 0.5
RECENCY_HALF_LIFE = timedelta(days=14)
_HALF_LIFE_US = RECENCY_HALF_LIFE / timedelta(microseconds=1)


class Ranker:
    """Scores and orders one search's candidates; wildcards expand through its `Evaluator`."""

    def __init__(self, evaluator: Evaluator, query: Query, now_us: int) -> None:
        self.seg: Segment = evaluator.seg
        self.evaluator = evaluator
        self.query = query
        self.now_us = now_us

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
        scale, weight = 1 / IMPACT_SCALE, RECENCY_WEIGHT / IMPACT_SCALE
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
                expansion = self.evaluator.expand(prefix)
                ids = tuple(expansion.stems + expansion.form_stems)
                groups.append(_TermGroup(ids, best_only=True))
                head_ids = tuple(seg.term_ids[t] for t in head if t in seg.term_ids)
                if head_ids:
                    groups.append(_TermGroup(head_ids, best_only=False))
            elif len(term) == 1 and is_cjk(term):
                groups.append(_TermGroup(tuple(self.evaluator.chars_terms(term)), best_only=True))
            else:
                ids = tuple(seg.term_ids[t] for t in term.split(" ") if t in seg.term_ids)
                if ids:
                    groups.append(_TermGroup(ids, best_only=False))
        return groups


@dataclass(frozen=True, slots=True)
class _TermGroup:
    term_ids: tuple[int, ...]
    best_only: bool  # a wildcard scores by its best expansion, not their sum
