"""The search index persisted in SQLite FTS5 (`search.sqlite` in the data directory): a cache.

`schema` opens the file (0600, WAL) and says what a stored item becomes there
(`rows`); `translate` turns the query tree into an FTS5 expression and SQL;
`rank` ranks a one-term query from stored norms, `bm25` a broad multi-term one
by FTS5's `bm25()` with a threshold on the recency boost;
`index` is `FtsIndex`, the search index the runtime uses over a TinyDB store:
searched without a rebuild at start-up, kept up to date incrementally, and
repaired from the store (the truth) whenever it is behind or foreign.
Imports `bot.models`, `bot.find` (query language, analysis, snippets, ranking
constants) and `bot.store.records.codec`; the standard library's sqlite3.
"""
