"""What every search engine shares: the protocol, results, snippets, analysis, recency.

`engine.SearchEngine` is what the runtime asks of an engine (the engines are
adapters: SQLite FTS5 in `bot.store.searchdb`, PostgreSQL's in
`bot.store.postgres.search`); `results` what a search returns; `snippets` the
highlighted excerpts of a hit; `analysis` how items become terms and
`MatchDoc`s quickly; `ranking` the recency boost; `segment` times in
microseconds as the indexes keep them.
Imports `bot.models` and `bot.find.query` / `bot.find.textindex` only.
"""
