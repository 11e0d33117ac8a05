"""briefbot's query language as SQL over the items table: a superset first, then the matcher.

`translate(query.root)` gives a condition (SQL and parameters) that every
item matching the query satisfies: words, phrases (`<->`) and prefixes
(`:*`) become `tsv @@ tsquery` over the tokens `searchdoc` indexed; a single
CJK character a LIKE over the folded text (served by the trigram index);
`feed:`, `tag:`, `since:`/`before:` their columns. NOT is translated only
over a condition that is exact (words, phrases, fields), since NOT of a
superset would drop true matches; any other NOT restricts nothing. The
search then re-checks each candidate with `Query.matches`, so what the SQL
lets through too much never reaches a user.

Why words and phrases are exact: the index holds each position's stem and raw
form, and the query's tokens are stems; a raw form equal to a query stem has
that stem as its own stem (stemming is idempotent), so the position matches
either way. A prefix of one token (`polic*`) is exact too: the matcher asks
for a stemmed or a raw token starting with it, and the index's lexemes are
exactly those tokens. Exact conditions spare the search re-checking every
candidate to count them (1,880 items for `polic*` in one workspace of the
1,000,000-item bench: most of its time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.find.query.nodes import (
    And,
    Chars,
    FeedIs,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    TagIs,
    TimeBound,
    Word,
)
from bot.store.postgres.searchdoc import quote_lexeme

__all__ = ["Condition", "rank_query", "translate"]

#: Feed ids carrying a tag in the configuration (feed tags count for `tag:`).
FeedsWithTag = Callable[[str], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Condition:
    """A SQL condition over `items`, its parameters, and whether it is exact (or a superset)."""

    sql: str
    params: tuple[Any, ...]
    exact: bool


TRUE = Condition("TRUE", (), exact=False)


def _ts(query: str) -> Condition:
    return Condition("tsv @@ %s::tsquery", (query,), exact=True)


def _phrase(tokens: Iterable[str], last: str = "") -> str:
    parts = [quote_lexeme(token) for token in tokens]
    if last:
        parts.append(last)
    return " <-> ".join(parts)


def translate(node: Node, now: datetime, feeds_with_tag: FeedsWithTag) -> Condition:
    """A condition every item matching `node` satisfies (see the module docstring)."""
    if isinstance(node, Word):
        return _ts(quote_lexeme(node.token))
    if isinstance(node, Phrase):
        return _ts(_phrase(node.tokens))
    if isinstance(node, Prefix):
        wildcard = quote_lexeme(node.prefix) + ":*"
        stemmed = _phrase(node.head, wildcard)
        raw = _phrase(node.raw_head, wildcard)
        query = stemmed if raw == stemmed else f"({stemmed}) | ({raw})"
        # One token: a lexeme starting with it is a stemmed or raw token starting
        # with it, as the matcher asks. After a head the phrase can pair a head's
        # stem with the last token's raw form, which the matcher does not.
        return Condition("tsv @@ %s::tsquery", (query,), exact=not node.head)
    if isinstance(node, Chars):
        pattern = "%" + node.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Condition("folded LIKE %s", (pattern + "%",), exact=True)
    if isinstance(node, FeedIs):
        return Condition("feed_id = %s", (node.feed_id,), exact=True)
    if isinstance(node, TagIs):
        feeds = sorted(feeds_with_tag(node.tag))
        return Condition(
            "(tags @> ARRAY[%s]::text[] OR feed_id = ANY(%s))", (node.tag, feeds), exact=True
        )
    if isinstance(node, TimeBound):
        operator = ">=" if node.field == "since" else "<"
        return Condition(f"item_when {operator} %s", (node.resolve(now),), exact=True)
    if isinstance(node, Not):
        inner = translate(node.child, now, feeds_with_tag)
        if not inner.exact:
            return TRUE
        return Condition(f"NOT ({inner.sql})", inner.params, exact=True)
    return _combine(node, now, feeds_with_tag)


def _combine(node: And | Or, now: datetime, feeds_with_tag: FeedsWithTag) -> Condition:
    parts = [translate(child, now, feeds_with_tag) for child in node.children]
    if isinstance(node, And):
        useful = [part for part in parts if part is not TRUE]
        if not useful:
            return TRUE
        exact = len(useful) == len(parts) and all(part.exact for part in parts)
        joiner = " AND "
    else:
        if any(part is TRUE for part in parts):
            return TRUE
        useful = parts
        exact = all(part.exact for part in parts)
        joiner = " OR "
    sql = joiner.join(f"({part.sql})" for part in useful)
    params = tuple(param for part in useful for param in part.params)
    return Condition(sql, params, exact)


def rank_query(terms: Iterable[str]) -> str | None:
    """A tsquery of the query's positive terms (`Query.positive_terms`), ORed, for ts_rank."""
    parts = []
    for term in terms:
        if term.endswith("*"):
            *head, prefix = term[:-1].split(" ")
            parts.append(_phrase(head, quote_lexeme(prefix) + ":*"))
        else:
            parts.append(_phrase(term.split(" ")))
    return " | ".join(f"({part})" for part in parts) if parts else None
