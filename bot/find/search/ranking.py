"""The recency boost every search engine multiplies its text score by.

`1 + 0.5 * 2 ** (-age / 14 days)`: an item from today weighs 1.5 times the
same match from months ago, two weeks old 1.25 times; an item dated in the
future counts as new. SQLite FTS5 (`bot.store.searchdb.run`) applies it to
bm25, PostgreSQL (`bot.store.postgres.search`) to ts_rank. Ties go to the
newer item; a query without positive terms (filters or NOTs only) lists the
newest matching items, score 0.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = ["RECENCY_HALF_LIFE", "RECENCY_WEIGHT"]

RECENCY_WEIGHT = 0.5
RECENCY_HALF_LIFE = timedelta(days=14)
