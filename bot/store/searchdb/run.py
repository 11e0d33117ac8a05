"""One search over the index file: rank in SQLite, walk the ranking in Python, build the hits.

A query with one positive term (a word, a phrase, a wildcard, a CJK
character: most broad queries) is ranked by `rank`: BM25F from the norms
stored per item, the term's matches split by field in FTS5, without
`bm25()`. Any other is ranked by FTS5's `bm25()` with the deleted in-memory
engine's field weights (title 3, summary 1; SQLite's BM25 weighs each column's term
frequency and normalizes by the whole document's length, where BM25F
normalizes each field by its own): a broad one by `bm25.rank_bm25`, which
boosts only the matches that can reach the page (no join of every match to
`docs`), the others in one statement. Both times the same recency boost, `1 +
0.5 * 2 ** (-age / 14 days)` (from the stored factor `e`: no `exp()` a row),
ties to the newer item, then the later seq; a query of filters only lists
the newest. SQLite sorts and hands back a window of the best candidates;
the walk widens it when stories and re-checks used it up.

Every candidate shown is re-checked with `Query.matches` on the item itself
(loaded from the store, or from the file), so what the index lets through
too much never reaches a user; a story is shown once, by its primary item
when that matches too. The total counts stories: when the condition is
exact, `docrows.count_stories` (from `count(*)` and the flagged copies; for
`feed:` and `tag:` alone too), or SQL's `count(DISTINCT story)` for other
filters; else by re-checking the
candidates (up to a budget, then an estimate from a sample: `total_exact`
False).

Where a broad query's time goes (measured at 100,000 items, issue 17 part 5):
FTS5's `bm25()` costs about 0.8 us for every matching row (position lists
and the `docsize` lookup), whether SQLite sorts the rows itself or not, and
`ORDER BY rank LIMIT` computes it for every row too; `rank`'s parts cost the
join to `docs` and an ORDER BY LIMIT (about 0.3 us a row), and a part whose
best score cannot reach the page is not read at all. `count(DISTINCT story)`
over a join cost a quarter to a third of such a query; `count(*)` of the
FTS5 matches alone costs a tenth of it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.find.query.matcher import Query
from bot.find.query.nodes import aware
from bot.find.search.analysis import prepare_doc_fast
from bot.find.search.results import SearchHit, SearchResults, check_page
from bot.find.search.snippets import Highlighter
from bot.find.search.times import micros
from bot.models import Item
from bot.store.searchdb.bm25 import BM25, rank_bm25, rank_joined
from bot.store.searchdb.docrows import count_stories
from bot.store.searchdb.rank import BOOST_CAP, rank_one_term, recency_scale
from bot.store.searchdb.translate import Cond, as_sql, match_sql, rank_expression, translate

if TYPE_CHECKING:
    from bot.store.searchdb.index import FtsIndex

__all__ = ["run_matching", "run_search"]

log = logging.getLogger(__name__)

#: Candidates re-checked one by one to count an inexact query's stories, at most.
_COUNT_BUDGET = 2_000
_SAMPLE = 200


def _source(cond: Cond) -> tuple[str, str, list[Any], bool]:
    """FROM, WHERE, their parameters, and whether `fts` is matched (bm25 available)."""
    expression = match_sql(cond)
    if expression is None:
        sql, values = as_sql(cond)
        return "docs d", sql, list(values), False
    where, params = "fts MATCH ?", [expression]
    if cond.sql is not None:
        where += f" AND ({cond.sql})"
        params.extend(cond.params)
    return "fts JOIN docs d ON d.seq = fts.rowid", where, params, True


class _Search:
    def __init__(self, index: FtsIndex, query: Query, now: datetime) -> None:
        self.index = index
        self.query = query
        self.now = now
        self.now_us = micros(now)
        self.cond = translate(query.root, now, index.feeds_with_tag)
        self.conn: sqlite3.Connection = index.connection()
        self.items: dict[int, Item] = {}
        self.verified: dict[int, bool] = {}
        self.counted: dict[str, int] = {}  # FTS5 expression -> rows of `fts` matching it

    def fts_count(self, expression: str) -> int:
        """How many rows of `fts` match `expression` (counted once a search)."""
        found = self.counted.get(expression)
        if found is None:
            sql = "SELECT count(*) FROM fts WHERE fts MATCH ?"
            (found,) = self.conn.execute(sql, (expression,)).fetchone()
            self.counted[expression] = found = int(found)
        return found

    def ranked(self, window: int | None) -> list[tuple[int, int, float]]:
        """(seq, story, score) best first, the first `window` (None: all)."""
        source, where, params, matched = _source(self.cond)
        limit = "" if window is None else f" LIMIT {int(window)}"
        positive = bool(self.query.positive_terms())
        if not positive:
            sql = f"SELECT d.seq, d.story, 0.0 FROM {source} WHERE {where}"  # noqa: S608
            rows = self.conn.execute(sql + " ORDER BY d.when_us DESC, d.seq DESC" + limit, params)
            return [(int(s), int(t), float(v)) for s, t, v in rows]
        terms = self.query.positive_terms()
        expression = match_sql(self.cond)
        ored = rank_expression(terms)
        alone = expression in (ored, f"({ored})")  # the match is the terms, ORed
        if matched and len(terms) == 1 and expression is not None:
            filters = None if self.cond.sql is None else (self.cond.sql, self.cond.params)
            return rank_one_term(
                self.conn, terms[0], expression, filters, self.now_us, window, alone=alone
            )
        if matched and self.cond.sql is None and window is not None and expression is not None:
            count = self.fts_count(expression)
            return rank_bm25(self.conn, expression, self.now_us, window, count=count)
        if matched:
            return rank_joined(self.conn, source, where, params, self.now_us, window)
        return self._ranked_apart(source, where, params, window)

    def _ranked_apart(
        self, source: str, where: str, params: list[Any], window: int | None
    ) -> list[tuple[int, int, float]]:
        """Ranking when the text sits under an OR with fields: bm25 from a query of its own."""
        sql = f"SELECT d.seq, d.story, d.when_us, d.e FROM {source} WHERE {where}"  # noqa: S608
        candidates = self.conn.execute(sql, params).fetchall()
        expression = rank_expression(self.query.positive_terms())
        scores: dict[int, float] = {}
        if expression is not None:
            rows = self.conn.execute(
                f"SELECT rowid, -{BM25} FROM fts WHERE fts MATCH ?",  # noqa: S608
                (expression,),
            )
            scores = {int(seq): float(value) for seq, value in rows}
        scale = recency_scale(self.now_us)  # the boost as rank_joined's SQL computes it
        ranked = sorted(
            (scores.get(seq, 0.0) * min(BOOST_CAP, 1.0 + scale * e), when, seq, story)
            for seq, story, when, e in candidates
        )
        ranked.reverse()
        best = [(int(seq), int(story), value) for value, _, seq, story in ranked]
        return best if window is None else best[:window]

    def load(self, seqs: Iterable[int]) -> None:
        wanted = [seq for seq in seqs if seq not in self.items]
        if wanted:
            self.items.update(self.index.load(wanted))

    def verify(self, seq: int) -> bool:
        found = self.verified.get(seq)
        if found is None:
            self.load((seq,))
            item = self.items.get(seq)
            found = item is not None and self.query.matches(
                prepare_doc_fast(item, self.index.tags_of_feed(item.feed_id)), now=self.now
            )
            self.verified[seq] = found
        return found

    def page(self, offset: int, limit: int) -> tuple[list[tuple[int, float]], int]:
        """(seq to show, score) of the page's stories; how many candidates proved false."""
        window = (offset + limit) * 2 + 8
        while True:
            ranked = self.ranked(window)
            shown: list[tuple[int, float]] = []
            stories: set[int] = set()
            false = 0
            for at in range(0, len(ranked), 16):
                chunk = ranked[at : at + 16]
                self.load(seq for seq, story, _ in chunk if story not in stories)
                for seq, story, score in chunk:
                    if story in stories:
                        continue
                    if not self.verify(seq):
                        false += 1
                        continue
                    stories.add(story)
                    if len(stories) > offset:
                        shown.append((self.show(seq, story), score))
                        if len(shown) >= limit:
                            return shown, false
            if len(ranked) < window:
                return shown, false
            window *= 4

    def show(self, seq: int, story: int) -> int:
        """The story's primary when it matches too, else `seq`."""
        return story if story != seq and self.verify(story) else seq

    def total(self, false: int) -> tuple[int, bool]:
        source, where, params, _ = _source(self.cond)
        expression = match_sql(self.cond)
        if self.cond.exact and expression is not None:
            filters = None if self.cond.sql is None else (self.cond.sql, self.cond.params)
            count = self.counted.get(expression)
            found = count_stories(self.conn, expression, filters, count=count)
            return max(0, found - false), True
        if self.cond.field is not None:  # feed: and tag: alone: counted by FTS5 too
            return max(0, count_stories(self.conn, self.cond.field, None) - false), True
        if self.cond.exact:
            sql = f"SELECT count(DISTINCT d.story) FROM {source} WHERE {where}"  # noqa: S608
            (count,) = self.conn.execute(sql, params).fetchone()
            return max(0, int(count) - false), True
        sql = f"SELECT d.seq, d.story FROM {source} WHERE {where} ORDER BY d.seq DESC"  # noqa: S608
        rows = [(int(seq), int(story)) for seq, story in self.conn.execute(sql, params)]
        matched = {story for seq, story in rows if self.verified.get(seq)}
        pending = [(s, t) for s, t in rows if t not in matched and s not in self.verified]
        if len(pending) <= _COUNT_BUDGET:
            self.load(seq for seq, _ in pending)
            matched.update(story for seq, story in pending if self.verify(seq))
            return len(matched), True
        sample = pending[:: max(1, math.ceil(len(pending) / _SAMPLE))]
        self.load(seq for seq, _ in sample)
        ratio = sum(self.verify(seq) for seq, _ in sample) / len(sample)
        return len(matched) + round(ratio * len({story for _, story in pending})), False

    def hits(self, shown: list[tuple[int, float]]) -> list[SearchHit]:
        highlighter = Highlighter(self.query)
        also = self.also_in([seq for seq, _ in shown])
        return [highlighter.hit(self.items[seq], score, also.get(seq, ())) for seq, score in shown]

    def also_in(self, seqs: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """The other feeds of each shown item's story."""
        if not seqs:
            return {}
        marks = ", ".join("?" * len(seqs))
        story_of = {
            int(seq): int(story)
            for seq, story in self.conn.execute(
                f"SELECT seq, story FROM docs WHERE seq IN ({marks})",  # noqa: S608
                list(seqs),
            )
        }
        stories = sorted(set(story_of.values()))
        marks = ", ".join("?" * len(stories))
        members = self.conn.execute(
            f"SELECT story, seq, feed_id FROM docs WHERE story IN ({marks})"  # noqa: S608
            f" OR seq IN ({marks}) ORDER BY seq",
            [*stories, *stories],
        ).fetchall()
        found: dict[int, tuple[str, ...]] = {}
        for seq in seqs:
            story, own = story_of.get(seq, seq), self.items[seq].feed_id
            feeds = {
                feed: None
                for member_story, member, feed in members
                if (member_story == story or member == story) and member != seq and feed != own
            }
            found[seq] = tuple(feeds)
        return found


def run_search(
    index: FtsIndex, query: Query, now: datetime, *, limit: int, offset: int, complete: bool
) -> SearchResults:
    """The best `limit` stories matching `query` after the first `offset` (module doc)."""
    check_page(limit, offset)
    started = time.perf_counter()
    search = _Search(index, query, aware(now))
    conn = search.conn
    conn.execute("BEGIN")  # one snapshot for the ranking, the items and the count
    try:
        shown, false = search.page(offset, limit)
        search.load(seq for seq, _ in shown)
        hits = search.hits(shown)
        total, exact = search.total(false)
    finally:
        conn.execute("COMMIT")
    return SearchResults(
        query=query,
        hits=tuple(hits),
        total=max(total, len(hits) + offset),
        took_ms=(time.perf_counter() - started) * 1000,
        offset=offset,
        total_exact=exact,
        complete=complete,
    )


def run_matching(index: FtsIndex, query: Query, seqs: set[int], now: datetime) -> set[int]:
    """The seqs among `seqs` whose items match `query` (candidates re-checked when inexact)."""
    search = _Search(index, query, aware(now))
    source, where, params, _ = _source(search.cond)
    rows = search.conn.execute(f"SELECT d.seq FROM {source} WHERE {where}", params)  # noqa: S608
    found = {int(seq) for (seq,) in rows if seq in seqs}
    if search.cond.exact:
        return found
    search.load(found)
    return {seq for seq in found if search.verify(seq)}
