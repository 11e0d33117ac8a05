"""What a batch adds besides its text: each item's norms, recency factor and flags.

Written by `index` with each batch, inside its write transaction:

- the BM25F length norms `nt` and `ns` (`rank.norms`) from the average title
  and summary lengths of every item counted so far and this batch (`meta`:
  `title_tokens`, `summary_tokens`, `counted`; a deleted item stays counted),
  and the largest of each (`nt_max`, `ns_max`): what bounds a part of the
  ranking (`rank`);
- the recency factor `e` (`rank.recency_factor`);
- `flags`, the tokens of the FTS5 `flags` column (no query text names it),
  made again from the item and `docs` (`ns`, `hasdup`) when its content-less
  row is deleted (by giving its tokens again):
  `dup` for a copy of a story (story != seq), `hasdup` for an item some
  indexed copy names as its story, `n0`..`n3`, the bucket of `ns`
  (`NS_EDGES`), which lets ranking skip the long summaries of a broad term,
  and the item's feed and own tags (`translate.feed_token`, `tag_token`), so
  that `feed:` and `tag:` are FTS5 conditions, not a test of every row.
  An item indexed before a copy that names it gets `hasdup` when the copy
  comes: its FTS5 row is written again (a copy is about 2% of items).

Counting stories reads `dup` and `hasdup` (`run`): `count(DISTINCT story)`
over every match is `count(*)` less, for each story with a matching copy,
its matching members but one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from bot.store.searchdb.rank import NS_EDGES, norms, recency_factor
from bot.store.searchdb.schema import Row, decode_item, row_of
from bot.store.searchdb.translate import feed_token, tag_token

__all__ = ["count_stories", "docs_rows", "flag_primaries", "flags_of"]

_COUNTS = ("title_tokens", "summary_tokens", "counted", "nt_max", "ns_max")


def flags_of(row: Row, ns: float, hasdup: bool) -> str:
    """The `flags` column of an item's FTS5 row (module docstring)."""
    flags = [f"n{sum(ns >= edge for edge in NS_EDGES)}", feed_token(row.feed_id)]
    flags += sorted(tag_token(tag) for tag in row.tags)
    if row.story != row.seq:
        flags.append("dup")
    if hasdup:
        flags.append("hasdup")
    return " ".join(flags)


def docs_rows(conn: sqlite3.Connection, rows: list[Row]) -> list[tuple[object, ...]]:
    """The `docs` rows of `rows` (seq, story, feed, when, nt, ns, e, hasdup) and, last,
    each one's `flags`; updates `meta`."""
    marks = ", ".join("?" * len(_COUNTS))
    known = dict(conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", _COUNTS))  # noqa: S608
    title = int(known.get("title_tokens", 0)) + sum(r.title_len for r in rows)
    summary = int(known.get("summary_tokens", 0)) + sum(r.summary_len for r in rows)
    count = max(1, int(known.get("counted", 0)) + len(rows))
    nt_max, ns_max = float(known.get("nt_max", 0.0)), float(known.get("ns_max", 0.0))
    named = _named_stories(conn, rows)
    found: list[tuple[object, ...]] = []
    for r in rows:
        nt, ns = norms(r.title_len, r.summary_len, title / count, summary / count)
        nt_max, ns_max = max(nt_max, nt), max(ns_max, ns)
        hasdup = r.seq in named
        row = (r.seq, r.story, r.feed_id, r.when_us, nt, ns, recency_factor(r.when_us))
        found.append((*row, int(hasdup), flags_of(r, ns, hasdup)))
    counts = (title, summary, count, nt_max, ns_max)
    conn.executemany(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [(key, str(value)) for key, value in zip(_COUNTS, counts, strict=True)],
    )
    return found


def _named_stories(conn: sqlite3.Connection, rows: list[Row]) -> set[int]:
    """The seqs of `rows` that a copy in `rows` or in the index names as its story."""
    named = {r.story for r in rows if r.story != r.seq}
    seqs = [r.seq for r in rows if r.seq not in named]
    for start in range(0, len(seqs), 500):
        part = seqs[start : start + 500]
        marks = ", ".join("?" * len(part))
        found = conn.execute(
            f"SELECT DISTINCT story FROM docs WHERE story IN ({marks}) AND seq != story",  # noqa: S608
            part,
        )
        named.update(int(story) for (story,) in found)
    return named


def flag_primaries(conn: sqlite3.Connection, stories: Iterable[int]) -> None:
    """Give `hasdup` to the indexed items with these seqs that lack it (module doc)."""
    wanted = sorted(set(stories))
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" * len(part))
        found = conn.execute(
            f"SELECT d.ns, i.item FROM docs d JOIN items i ON i.seq = d.seq"  # noqa: S608
            f" WHERE d.seq IN ({marks}) AND NOT d.hasdup",
            part,
        ).fetchall()
        for ns, blob in found:
            row = row_of(decode_item(blob))
            text = (row.title, row.summary, row.forms, row.chars)
            conn.execute(
                "INSERT INTO fts (fts, rowid, title, summary, forms, chars, flags)"
                " VALUES ('delete', ?, ?, ?, ?, ?, ?)",
                (row.seq, *text, flags_of(row, ns, hasdup=False)),
            )
            conn.execute(
                "INSERT INTO fts (rowid, title, summary, forms, chars, flags)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row.seq, *text, flags_of(row, ns, hasdup=True)),
            )
            conn.execute("UPDATE docs SET hasdup = 1 WHERE seq = ?", (row.seq,))


def count_stories(
    conn: sqlite3.Connection,
    match: str,
    sql: tuple[str, Sequence[Any]] | None,
    *,
    count: int | None = None,
) -> int:
    """How many stories the items matching FTS5 expression `match` and SQL condition `sql`
    over `d` are: `count(DISTINCT story)`, from `count(*)` (`count` when the caller has
    it: the rows of `fts` matching `match`, `sql` None) and the matching flagged items."""
    where, extra = ("", []) if sql is None else (f" AND ({sql[0]})", list(sql[1]))
    source = "fts" if sql is None else "fts CROSS JOIN docs d ON d.seq = fts.rowid"
    if count is None or sql is not None:
        (count,) = conn.execute(
            f"SELECT count(*) FROM {source} WHERE fts MATCH ?{where}",  # noqa: S608
            [match, *extra],
        ).fetchone()
    flagged = conn.execute(
        f"SELECT d.seq, d.story FROM fts CROSS JOIN docs d ON d.seq = fts.rowid"  # noqa: S608
        f" WHERE fts MATCH ?{where}",
        [f"({match}) AND (flags : (dup OR hasdup))", *extra],
    ).fetchall()
    copies: dict[int, int] = {}
    for seq, story in flagged:
        if story != seq:
            copies[story] = copies.get(story, 0) + 1
    primaries = {seq for seq, story in flagged if story == seq}
    return int(count) - sum(n + (story in primaries) - 1 for story, n in copies.items())
