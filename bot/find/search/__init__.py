"""Ranked search over stored items: an in-memory inverted index, BM25F, a recency boost.

`index` is the public `SearchIndex` (writing, background build, searching);
`results` what a search returns; `segment` the index's arrays; `analysis` how
items become terms; `evaluate` the query tree over the index; `bm25f` and
`ranking` the scores; `snippets` the highlighted excerpts; `run` one search.
Imports `bot.models` and `bot.find.query` / `bot.find.textindex` only.
"""
