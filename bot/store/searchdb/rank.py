"""Ranking a one-term query without FTS5's `bm25()`: BM25F from stored norms, by partitions.

FTS5's `bm25()` costs about 0.8 us for every matching row (it walks the
row's position lists and looks its size up), which made a broad query
(10,000-16,000 matches at 100,000 items) spend 8-15 ms ranking. A query with
one positive term (a word, a phrase, a wildcard: most broad queries) is
ranked here instead, from what `docs` stores for each item (`schema`): the
title's and summary's BM25F length norms, `nt` = 3 / (1 - b + b * title
length / average) and `ns` = 1 / (1 - b + b * summary length / average), as
the deleted in-memory engine weighed its fields, and the recency factor `e`.

The term's presence in each field comes from FTS5 itself, by splitting the
matches in three FTS5 expressions that it evaluates without touching
positions: the term in the title and the summary (`tf~ = nt + ns`), in the
title only (`nt`), not in the title (`ns`: the summary, or an unstemmed form
or CJK character whose field the index does not keep). A doc scores
`tf~ / (k1 + tf~)` times the recency boost (idf is the same for every doc
of a one-term query, so it is left out); a word repeated in a field counts
once, where the deleted in-memory engine counted it. Each part is sorted by SQLite
with a LIMIT, and the three merged: the best `window` overall are among the
best `window` of each part.

The recency boost `1 + 0.5 * 2 ** (-age / half-life)`, capped at 1.5 for an
item dated after `now`, is `min(1.5, 1 + c * e)` with `c = 0.5 * 2 **
((EPOCH - now) / half-life)`: one multiplication a row, no `exp()`.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Sequence
from typing import Any

from bot.find.search.ranking import RECENCY_HALF_LIFE, RECENCY_WEIGHT
from bot.store.searchdb.translate import field_expression

__all__ = ["BOOST_CAP", "NS_EDGES", "norms", "rank_one_term", "recency_factor", "recency_scale"]

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 1.0
#: The origin of `e` (any fixed instant: it cancels out in the boost).
EPOCH_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
_HALF_LIFE_US = RECENCY_HALF_LIFE.total_seconds() * 1e6
#: Upper edges of the buckets of `ns` (`docrows`: flags `n0`..`n3`); the last one's is
#: the largest `ns` indexed. An average summary's `ns` is 1; a short one's up to 4.
NS_EDGES = (1.0, 1.5, 2.5)
#: 2 ** 1000 still fits a double: older or later items are counted at the bound.
_EXPONENT_BOUND = 1000.0

Ranked = list[tuple[int, int, float]]


def recency_factor(when_us: int) -> float:
    """`e` of an item dated `when_us` (see the module docstring)."""
    exponent = (when_us - EPOCH_US) / _HALF_LIFE_US
    return float(2.0 ** max(-_EXPONENT_BOUND, min(_EXPONENT_BOUND, exponent)))


#: The recency boost's ceiling: an item dated now, or later.
BOOST_CAP = 1.0 + RECENCY_WEIGHT


def recency_scale(now_us: int) -> float:
    """`c` of a search at `now_us`: the boost is `min(1.5, 1 + c * e)`."""
    exponent = (EPOCH_US - now_us) / _HALF_LIFE_US
    return float(RECENCY_WEIGHT * 2.0 ** max(-_EXPONENT_BOUND, min(_EXPONENT_BOUND, exponent)))


def norms(
    title_len: int, summary_len: int, avg_title: float, avg_summary: float
) -> tuple[float, float]:
    """BM25F's `weight / (1 - b + b * length / average length)`, title then summary."""
    title = TITLE_WEIGHT / (1 - B + B * title_len / max(avg_title, 1.0))
    summary = SUMMARY_WEIGHT / (1 - B + B * summary_len / max(avg_summary, 1.0))
    return title, summary


def rank_one_term(
    conn: sqlite3.Connection,
    term: str,
    match: str,
    sql: tuple[str, Sequence[Any]] | None,
    now_us: int,
    window: int | None,
    *,
    alone: bool = False,
) -> Ranked:
    """(seq, story, score) best first, the first `window` (None: all), of the items
    matching FTS5 expression `match` and SQL condition `sql` over `d`, ranked for the
    one positive `term` (see the module docstring); `alone`: `match` is the term."""
    nt_max, ns_max = _largest_norms(conn)
    title = field_expression(term, "title")
    summary = field_expression(term, "summary")
    parts: list[tuple[str, str, float]] = []
    rest = f"({match})"
    if title is not None and summary is not None:
        # The term in the title implies `match` when `match` is the term alone.
        titled = f"({title})" if alone else f"(({match}) AND ({title}))"
        parts.append((f"{titled} AND ({summary})", "d.nt + d.ns", nt_max + ns_max))
        parts.append((f"{titled} NOT ({summary})", "d.nt", nt_max))
        rest = f"({match}) NOT ({title})"
    for bucket in range(len(NS_EDGES), -1, -1):
        if bucket and NS_EDGES[bucket - 1] > ns_max:
            continue  # no item has so short a summary
        edge = NS_EDGES[bucket] if bucket < len(NS_EDGES) else ns_max
        parts.append((f"({rest}) AND (flags : n{bucket})", "d.ns", min(edge, ns_max)))
    where, extra = "", []
    if sql is not None:
        where, extra = f" AND ({sql[0]})", list(sql[1])
    boost = f"min({BOOST_CAP!r}, 1.0 + ? * d.e)"
    scale = recency_scale(now_us)
    best: list[tuple[float, int, int, int]] = []  # (score, when, seq, story), a heap
    for expression, tf, bound in parts:
        full = window is not None and len(best) >= window
        if full and best[0][0] > bound / (K1 + bound) * (1 + RECENCY_WEIGHT) * (1 + 1e-9):
            continue  # none of this part can reach the page
        bar = f" AND score >= {best[0][0]!r}" if full else ""
        rows = conn.execute(
            f"SELECT ({tf}) / ({K1} + {tf}) * {boost} AS score, d.when_us, d.seq, d.story"  # noqa: S608
            f" FROM fts CROSS JOIN docs d ON d.seq = fts.rowid WHERE fts MATCH ?{where}{bar}"
            f" ORDER BY score DESC, d.when_us DESC, d.seq DESC"
            + ("" if window is None else f" LIMIT {int(window)}"),
            [scale, expression, *extra],
        )
        for row in rows:
            if window is None or len(best) < window:
                heapq.heappush(best, row)
            elif row > best[0]:
                heapq.heapreplace(best, row)
    best.sort(reverse=True)
    return [(int(seq), int(story), float(score)) for score, _, seq, story in best]


def _largest_norms(conn: sqlite3.Connection) -> tuple[float, float]:
    """The largest `nt` and `ns` indexed (`docrows`): what bounds a part's scores."""
    found = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('nt_max', 'ns_max')"))
    return float(found.get("nt_max", 0.0)), float(found.get("ns_max", 0.0))
