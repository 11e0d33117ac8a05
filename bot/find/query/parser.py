"""Parsing a query into its tree: recursive descent whose depth `lex` has bounded.

The depth is bounded by MAX_DEPTH (checked in `lex`); chains of NOT are counted
in a loop, not recursed into.
"""

from __future__ import annotations

import re
from datetime import date

from bot.find.query.lexer import Lexeme, lex
from bot.find.query.matcher import Query
from bot.find.query.nodes import (
    And,
    Chars,
    FeedIs,
    Leaf,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    TagIs,
    TimeBound,
    Word,
)
from bot.find.query.syntax import MAX_QUERY_CHARS, QueryError
from bot.find.textindex import fold_text, is_cjk, stem_token, tokenize

__all__ = ["parse_query"]


def parse_query(text: str) -> Query:
    """Parse `text` in the query language; raise `QueryError` saying what and where."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query is too long: {len(text):,} characters, the limit is {MAX_QUERY_CHARS:,}",
            MAX_QUERY_CHARS + 1,
        )
    if not text.strip():
        raise QueryError("empty query")
    root = _Parser(lex(text)).parse_or()
    if root is None:
        raise QueryError("no words to search for in the query")
    return Query(text, root)


class _Parser:
    def __init__(self, lexemes: list[Lexeme]) -> None:
        self.lexemes = lexemes
        self.i = 0

    def peek(self) -> Lexeme | None:
        return self.lexemes[self.i] if self.i < len(self.lexemes) else None

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.i]
        self.i += 1
        return lexeme

    def parse_or(self) -> Node | None:
        first = self.peek()
        if first is not None and first.kind in ("and", "or"):
            raise _needs_before(first)
        parts = [self.parse_and()]
        while (lexeme := self.peek()) is not None and lexeme.kind == "or":
            operator = self.take()
            if parts[-1] is None:
                raise _needs_before(operator)
            right = self.parse_and() if _starts_term(self.peek()) else None
            if right is None:
                raise _needs_after(operator)
            parts.append(right)
        nodes = [part for part in parts if part is not None]
        return _combine(Or, nodes)

    def parse_and(self) -> Node | None:
        nodes: list[Node] = []
        seen_term = False
        while (lexeme := self.peek()) is not None and lexeme.kind not in ("rparen", "or"):
            if lexeme.kind == "and":
                operator = self.take()
                if not seen_term:
                    raise _needs_before(operator)
                node = self.parse_unary() if _starts_term(self.peek()) else None
                if node is None:
                    raise _needs_after(operator)
            else:
                node = self.parse_unary()
            seen_term = True
            if node is not None:
                nodes.append(node)
        return _combine(And, nodes)

    def parse_unary(self) -> Node | None:
        negations = 0
        operator: Lexeme | None = None
        while (lexeme := self.peek()) is not None and lexeme.kind in ("not", "minus"):
            operator = self.take()
            negations += 1
        if operator is None:
            return self.parse_primary()
        node = self.parse_primary() if _starts_term(self.peek(), after_not=True) else None
        if node is None:
            raise _needs_after(operator)
        if negations % 2 == 0:
            return node
        return node.child if isinstance(node, Not) else Not(node)

    def parse_primary(self) -> Node | None:
        lexeme = self.take()
        if lexeme.kind == "lparen":
            after = self.peek()
            if after is not None and after.kind == "rparen":
                raise QueryError(f"empty parentheses at column {lexeme.column}", lexeme.column)
            node = self.parse_or()
            self.take()  # the ")": lex guarantees balance, parse_or stops only there
            return node
        if lexeme.kind == "field":
            return _build_field(lexeme)
        if lexeme.kind == "phrase":
            return _build_phrase(lexeme)
        return _build_word(lexeme)


def _starts_term(lexeme: Lexeme | None, *, after_not: bool = False) -> bool:
    if lexeme is None:
        return False
    if after_not:
        return lexeme.kind in ("word", "phrase", "field", "lparen")
    return lexeme.kind in ("word", "phrase", "field", "lparen", "not", "minus")


def _needs_after(operator: Lexeme) -> QueryError:
    return QueryError(
        f"{operator.text} needs a term after it (column {operator.column})", operator.column
    )


def _needs_before(operator: Lexeme) -> QueryError:
    return QueryError(
        f"{operator.text} needs a term before it (column {operator.column})", operator.column
    )


def _combine(kind: type[And] | type[Or], nodes: list[Node]) -> Node | None:
    """Return one node for `nodes` joined by `kind`, flattening nested nodes of that kind."""
    if not nodes:
        return None
    if len(nodes) == 1:
        return nodes[0]
    flat: dict[Node, None] = {}  # ordered, without repeats: `chip OR chips` is one test
    for node in nodes:
        for child in node.children if isinstance(node, kind) else (node,):
            flat.setdefault(child)
    return kind(tuple(flat)) if len(flat) > 1 else next(iter(flat))


def _build_word(lexeme: Lexeme) -> Node | None:
    word = lexeme.text
    if "*" not in word:
        return _build_leaf(tokenize(word))
    stem = word.rstrip("*")
    if not stem:
        raise QueryError(
            "a bare * is not a search term; write at least 2 letters before it,"
            f" as in export* (column {lexeme.column})",
            lexeme.column,
        )
    if "*" in stem:
        column = lexeme.column + stem.index("*")
        raise QueryError(f"* can only end a word, as in export* (column {column})", column)
    raw = tokenize(stem)
    if not raw or len(raw[-1]) < 2:
        raise QueryError(
            f"a wildcard needs at least 2 letters before the *, as in ex* (column {lexeme.column})",
            lexeme.column,
        )
    head = tuple(raw[:-1])
    return Prefix(tuple(stem_token(token) for token in head), head, raw[-1])


def _build_phrase(lexeme: Lexeme) -> Node:
    node = _build_leaf(tokenize(lexeme.text))
    if node is None:
        raise QueryError(
            f"nothing to search for in the quotes at column {lexeme.column}", lexeme.column
        )
    return node


def _build_leaf(raw: list[str]) -> Leaf | None:
    if not raw:
        return None  # punctuation only: nothing to require
    if len(raw) == 1:
        token = raw[0]
        if len(token) == 1 and is_cjk(token):
            return Chars(token)
        return Word(stem_token(token))
    return Phrase(tuple(stem_token(token) for token in raw))


_DURATION_RE = re.compile(r"(\d{1,4})([hdw])", re.IGNORECASE)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _build_field(lexeme: Lexeme) -> Node:
    name, value, column = lexeme.name, lexeme.text.strip(), lexeme.column
    if name == "feed":
        if not value:
            raise QueryError(f"feed: needs a feed id, as in feed:fr-bis (column {column})", column)
        return FeedIs(value)
    if name == "tag":
        tag = fold_text(value).strip()
        if not tag:
            raise QueryError(f"tag: needs a tag name, as in tag:us (column {column})", column)
        return TagIs(tag)
    duration = _DURATION_RE.fullmatch(value)
    if duration is not None:
        return TimeBound(name, int(duration.group(1)), duration.group(2).lower())
    if _DATE_RE.fullmatch(value):
        try:
            return TimeBound(name, day=date.fromisoformat(value))
        except ValueError:
            raise QueryError(
                f"{name}: {value} is not a real date (column {column})", column
            ) from None
    raise QueryError(
        f"{name}: needs a duration such as 7d or a date such as 2026-11-01 (column {column})",
        column,
    )
