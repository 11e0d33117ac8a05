"""Ranking a multi-term query by FTS5's `bm25()`, boosting only the matches that can reach the page.

A query with several positive terms (`ukraine OR russia`, `"prime minister"
japan`) is ranked by FTS5's `bm25()` (title 3, summary 1, the other columns
0) times the recency boost `min(1.5, 1 + c * e)` (`rank`), ties to the newer
item, then the later seq (`rank_joined`: one statement). There every match
pays for `bm25()` (its position lists and the `docsize` lookup, about 1 us)
and for a join to `docs` for its `e` (about 0.5 us, a third of the query).

A broad one (`SMALL` matches or more, counted by FTS5 first: a tenth of the
cost) is ranked by `rank_bm25` instead, a threshold algorithm over the one
bound the boost has, 1.5: FTS5 sorts the matches by `bm25()` alone, without
the join, and hands back the best `PROBE`; only those are joined to `docs`
and boosted, by the same SQL expression as `rank_joined`'s (the same bits,
the same order, ties alike). When the last one's `bm25()` times 1.5 is below
the `window`-th best boosted score, no match left out can reach the page
(rounding is monotonic); else the matches whose `bm25()` times 1.5 reaches
it are read again (a second pass, still exact; about 450 of the first
matches by `bm25()` alone hold the first page of the benchmark's broadest
ORs). `tests/store/searchdb/test_bm25.py` compares the pages with
`rank_joined`'s.

Not done: skipping `bm25()` itself for the matches that cannot reach the
page. Its only bound without the item's term frequencies and length is `idf *
(k1 + 1)` per phrase, which the best items of the benchmark's broad ORs come
within 20% of (titles and summaries that repeat the terms): reading the
index by weeks of date to use the boost's bound saved under a fifth, not
worth a rebuild of every index (measured at 100,000 items, issue 17).
"""

from __future__ import annotations

import sqlite3

from bot.store.searchdb.rank import BOOST_CAP, recency_scale

__all__ = ["BM25", "PROBE", "SMALL", "rank_bm25", "rank_joined"]

#: FTS5's `bm25()` with the field weights: title 3, summary 1, the other columns 0.
BM25 = "bm25(fts, 3.0, 1.0, 0.0, 0.0, 0.0)"
#: Matches under which `rank_joined`'s one statement is the cheaper.
SMALL = 2_000
#: How many matches, at least, the first pass takes by `bm25()` alone.
PROBE = 512
_CAP = BOOST_CAP

Ranked = list[tuple[int, int, float]]


def rank_joined(
    conn: sqlite3.Connection,
    source: str,
    where: str,
    params: list[object],
    now_us: int,
    window: int | None,
) -> Ranked:
    """(seq, story, score) best first, the first `window` (None: all), of the rows of
    `source` (FTS5 `fts` joined to `docs d`) that satisfy `where`, in one statement."""
    score = f"-{BM25} * min({_CAP!r}, 1.0 + ? * d.e)"
    limit = "" if window is None else f" LIMIT {int(window)}"
    rows = conn.execute(
        f"SELECT d.seq, d.story, {score} AS score FROM {source} WHERE {where}"  # noqa: S608
        f" ORDER BY score DESC, d.when_us DESC, d.seq DESC{limit}",
        [recency_scale(now_us), *params],
    )
    return [(int(s), int(t), float(v)) for s, t, v in rows]


def rank_bm25(
    conn: sqlite3.Connection,
    match: str,
    now_us: int,
    window: int,
    *,
    count: int | None = None,
    small: int = SMALL,
    probe: int = PROBE,
) -> Ranked:
    """(seq, story, score) best first, the first `window`, of the items matching FTS5
    expression `match`, as `rank_joined` ranks them (see the module docstring);
    `count`: how many rows of `fts` match, when the caller counted them."""
    if count is None:
        (count,) = conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()
    if count < small:
        source = "fts CROSS JOIN docs d ON d.seq = fts.rowid"
        return rank_joined(conn, source, "fts MATCH ?", [match], now_us, window)
    probe = max(probe, window * 16)
    scale = recency_scale(now_us)
    raws = f"SELECT rowid, -{BM25} AS raw FROM fts WHERE fts MATCH ?"  # noqa: S608
    rows = _boosted(conn, f"{raws} ORDER BY raw DESC LIMIT {int(probe)}", [match], scale)
    if len(rows) == probe:
        scored = [score for _, _, score, _ in rows if score is not None]
        theta = scored[window - 1] if len(scored) >= window else None
        if theta is None or min(raw for *_, raw in rows) * _CAP >= theta:
            # Some match left out may reach the page: read every one that can.
            again = f"SELECT rowid, raw FROM ({raws}) WHERE raw * {_CAP!r} >= ?"  # noqa: S608
            rows = _boosted(conn, again, [match, -1.0 if theta is None else theta], scale)
    return [
        (seq, story, score)
        for seq, story, score, _ in rows
        if story is not None and score is not None
    ][:window]


def _boosted(
    conn: sqlite3.Connection, raws: str, params: list[object], scale: float
) -> list[tuple[int, int | None, float | None, float]]:
    """(seq, story, score, -bm25) of the matches `raws` selects (rowid, raw: -bm25),
    best first, each score as `rank_joined` computes it (the same SQL); story and score
    None for a match without a `docs` row (never shown, but counted among those read)."""
    rows = conn.execute(
        f"SELECT r.rowid, d.story, r.raw * min({_CAP!r}, 1.0 + ? * d.e) AS score, r.raw"  # noqa: S608
        f" FROM ({raws}) r LEFT JOIN docs d ON d.seq = r.rowid"
        f" ORDER BY score DESC, d.when_us DESC, d.seq DESC",
        [scale, *params],
    )
    return [(int(seq), story, score, float(raw)) for seq, story, score, raw in rows]
