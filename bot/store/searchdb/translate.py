"""briefbot's query language over the index file: an FTS5 expression plus SQL, a superset first.

`translate(query.root)` gives a `Cond` every matching item satisfies: words,
phrases, wildcards and single CJK characters become one FTS5 expression over
the analyzer's tokens (see `schema`); `feed:`, `tag:`, `since:`/`before:`
SQL over `docs` (alias `d`), except that `feed:` and `tag:` ANDed with text
become FTS5 conditions over the `flags` column's tokens (`feed_token`,
`tag_token`; a tag is the item's own or its feed's, which configuration
gives at search time); NOT the FTS5 `NOT` of an exact text condition, else
SQL `NOT`; an OR that mixes text and fields a union of sub-selects.

Exact, except a wildcard after other words (`export-controls*`): the index
holds stems in order and unstemmed forms apart, so its unstemmed reading is
only narrowed down (`Cond.exact` False); NOT of something inexact restricts
nothing. The search re-checks candidates with `Query.matches` whenever the
condition is not exact, and every hit it shows in any case.
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
    Phrase,
    Prefix,
    TagIs,
    TimeBound,
    Word,
)
from bot.find.search.times import micros
from bot.find.textindex import is_cjk

__all__ = [
    "TEXT",
    "Cond",
    "feed_token",
    "field_expression",
    "match_sql",
    "rank_expression",
    "tag_token",
    "translate",
]

FeedsWithTag = Callable[[str], Iterable[str]]
TEXT = "{title summary}"


@dataclass(frozen=True, slots=True)
class Cond:
    """`fts` (an FTS5 expression), minus each of `negated`, and `sql` over `d`: all must hold.

    None of the three: no restriction (`exact` then says whether that is
    the node's own meaning). `field`: the same condition as an FTS5
    expression over `flags`, when it is `feed:` and `tag:` alone (`sql` only):
    ANDed with text, it is matched by FTS5 with the text instead of tested
    row by row; alone, SQL's index on `docs (feed_id, when_us)` is faster.
    """

    fts: str | None = None
    negated: tuple[str, ...] = ()
    sql: str | None = None
    params: tuple[Any, ...] = ()
    exact: bool = True
    field: str | None = None

    @property
    def text_only(self) -> bool:
        return self.fts is not None and not self.negated and self.sql is None

    @property
    def unrestricted(self) -> bool:
        return self.fts is None and not self.negated and self.sql is None


_NOTHING = Cond(sql="0")
_ANYTHING_MAYBE = Cond(exact=False)


def _quote(tokens: str) -> str:
    return '"' + tokens.replace('"', '""') + '"'


def _prefix(prefix: str) -> str:
    return f"({TEXT} : {_quote(prefix)}* OR forms : {_quote(prefix)}*)"


def feed_token(feed_id: str) -> str:
    """The `flags` token of the items of a feed: its id in hex (the tokenizer splits ids)."""
    return "f" + feed_id.encode().hex()


def tag_token(tag: str) -> str:
    """The `flags` token of the items with this (folded) tag of their own."""
    return "t" + tag.encode().hex()


def translate(node: Node, now: datetime, feeds_with_tag: FeedsWithTag) -> Cond:
    """A condition every item matching `node` satisfies (see the module docstring)."""
    if isinstance(node, Word):
        return Cond(fts=f"{TEXT} : {_quote(node.token)}")
    if isinstance(node, Phrase):
        return Cond(fts=f"{TEXT} : {_quote(' '.join(node.tokens))}")
    if isinstance(node, Prefix):
        if not node.head:
            return Cond(fts=_prefix(node.prefix))
        stemmed = f"{TEXT} : {_quote(' '.join((*node.head, node.prefix)))}*"
        unstemmed = f"{TEXT} : {_quote(' '.join(node.head))} AND {_prefix(node.prefix)}"
        return Cond(fts=f"({stemmed}) OR ({unstemmed})", exact=False)
    if isinstance(node, Chars):
        return Cond(fts=f"chars : {_quote(node.text)}")
    if isinstance(node, FeedIs):
        field = f"flags : {feed_token(node.feed_id)}"
        return Cond(sql="d.feed_id = ?", params=(node.feed_id,), field=field)
    if isinstance(node, TagIs):
        feeds = sorted(feeds_with_tag(node.tag))
        tokens = [tag_token(node.tag), *(feed_token(feed) for feed in feeds)]
        sql = "d.seq IN (SELECT seq FROM tags WHERE tag = ?)"
        if feeds:
            sql = f"({sql} OR d.feed_id IN ({', '.join('?' * len(feeds))}))"
        return Cond(sql=sql, params=(node.tag, *feeds), field=f"flags : ({' OR '.join(tokens)})")
    if isinstance(node, TimeBound):
        operator = ">=" if node.field == "since" else "<"
        return Cond(sql=f"d.when_us {operator} ?", params=(micros(node.resolve(now)),))
    if isinstance(node, Not):
        inner = translate(node.child, now, feeds_with_tag)
        if not inner.exact:
            return _ANYTHING_MAYBE
        if inner.unrestricted:
            return _NOTHING
        if inner.text_only:
            assert inner.fts is not None
            return Cond(negated=(inner.fts,))
        sql, params = as_sql(inner)
        return Cond(sql=f"NOT ({sql})", params=params)
    if isinstance(node, And):
        return _and([translate(child, now, feeds_with_tag) for child in node.children])
    return _or([translate(child, now, feeds_with_tag) for child in node.children])


def _and(parts: list[Cond]) -> Cond:
    fields = [part.field for part in parts if part.field is not None]
    field = " AND ".join(f"({f})" for f in fields) if len(fields) == len(parts) else None
    if any(part.fts is not None for part in parts):
        # Fields beside text: matched by FTS5 with it (see `Cond`).
        parts = [Cond(fts=part.field) if part.field is not None else part for part in parts]
    texts = [part.fts for part in parts if part.fts is not None]
    sqls = [part for part in parts if part.sql is not None]
    return Cond(
        field=field,
        fts=" AND ".join(f"({text})" for text in texts) if texts else None,
        negated=tuple(neg for part in parts for neg in part.negated),
        sql=" AND ".join(f"({part.sql})" for part in sqls) if sqls else None,
        params=tuple(param for part in sqls for param in part.params),
        exact=all(part.exact for part in parts),
    )


def _or(parts: list[Cond]) -> Cond:
    exact = all(part.exact for part in parts)
    if any(part.unrestricted for part in parts):
        return Cond(exact=exact)
    if all(part.text_only for part in parts):
        return Cond(fts=" OR ".join(f"({part.fts})" for part in parts), exact=exact)
    pieces = [as_sql(part) for part in parts]
    fields = [part.field for part in parts if part.field is not None]
    return Cond(
        field=" OR ".join(f"({f})" for f in fields) if len(fields) == len(parts) else None,
        sql=" OR ".join(f"({sql})" for sql, _ in pieces),
        params=tuple(param for _, params in pieces for param in params),
        exact=exact,
    )


def match_sql(cond: Cond) -> str | None:
    """The FTS5 MATCH expression of `cond`'s text part with its NOTs, or None."""
    if cond.fts is None:
        return None
    return " NOT ".join([f"({cond.fts})", *(f"({neg})" for neg in cond.negated)])


def as_sql(cond: Cond) -> tuple[str, tuple[Any, ...]]:
    """`cond` as one SQL condition over `d`, the text parts as sub-selects of `fts`."""
    clauses: list[str] = []
    params: list[Any] = []
    expression = match_sql(cond)
    if expression is not None:
        clauses.append("d.seq IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
        params.append(expression)
    else:
        for neg in cond.negated:
            clauses.append("d.seq NOT IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(neg)
    if cond.sql is not None:
        clauses.append(f"({cond.sql})")
        params.extend(cond.params)
    return (" AND ".join(clauses) or "1"), tuple(params)


def rank_expression(terms: Iterable[str]) -> str | None:
    """An FTS5 expression ORing the query's positive terms (`Query.positive_terms`), for bm25."""
    parts: list[str] = []
    for term in terms:
        if term.endswith("*"):
            *head, prefix = term[:-1].split(" ")
            if head:
                parts.append(f"{TEXT} : {_quote(' '.join((*head, prefix)))}*")
            else:
                parts.append(_prefix(prefix))
        elif len(term) == 1 and is_cjk(term):
            parts.append(f"chars : {_quote(term)}")
        else:
            parts.append(f"{TEXT} : {_quote(term)}")
    return " OR ".join(f"({part})" for part in parts) if parts else None


def field_expression(term: str, column: str) -> str | None:
    """An FTS5 expression for a positive term (`Query.positive_terms`) in one column
    (`title` or `summary`); None for a single CJK character, whose field is not kept."""
    if len(term) == 1 and is_cjk(term):
        return None
    if term.endswith("*"):
        return f"{column} : {_quote(term[:-1])}*"
    return f"{column} : {_quote(term)}"
