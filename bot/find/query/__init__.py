"""The query language of topics, subscriptions, digest filters and search.

`syntax` (limits, `QueryError`), `lexer` and `parser` turn text into a tree of
`nodes`; `document` prepares items, `matcher` matches them; `question` turns
plain words into a query. Imports `bot.find.textindex` (and `bot.models` for types) only.
"""
