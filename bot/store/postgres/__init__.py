"""The PostgreSQL backend of `bot.store.ports`: the only package that imports psycopg.

`store` (`PgStore`: pool, transactions, retention, heartbeat), `migrations`
(numbered SQL files in `sql/`, run at open and by `briefbot migrate`), `db`
(pooled or in-transaction statements), `items` (dedup by unique keys, seqs in
commit order), `records` (the record repositories' `RecordSource`),
`searchdoc` (what is indexed of an item), `tsquery` (the query language as
SQL) and `search` (`PgSearch`: ranked search in the database), `url`
(database URLs without their password), `importer` (a TinyDB data
directory's contents, seqs kept), `installations` (Slack installations of
many workspaces, sealed with BRIEFBOT_SECRET_KEY: the only importer of
cryptography). Chosen by BRIEFBOT_DATABASE_URL.
"""
