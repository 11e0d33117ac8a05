"""Lexing a query: one pass, no recursion; the nesting and term limits checked as it goes."""

from __future__ import annotations

from dataclasses import dataclass

from bot.find.query.syntax import FIELDS, MAX_DEPTH, MAX_TERMS, OPERATORS, QueryError

__all__ = ["Lexeme", "lex"]

_OPEN_PARENS = "(（"
_CLOSE_PARENS = ")）"
_OPEN_QUOTES = '"“”„＂'
_CLOSE_QUOTES = '"“”＂'
_WORD_STOPS = frozenset(_OPEN_PARENS + _CLOSE_PARENS + _OPEN_QUOTES)


@dataclass(frozen=True, slots=True)
class Lexeme:
    """One unit of a query, with the 1-based column where it starts."""

    kind: str  # word, phrase, field, lparen, rparen, and, or, not, minus
    text: str
    column: int
    name: str = ""  # the field name of a field


def lex(text: str) -> list[Lexeme]:
    """Split `text` into lexemes, refusing unbalanced or over-deep input early."""
    return _Lexer(text).run()


class _Lexer:
    """The state of one pass: lexemes so far, the open parentheses, the terms counted."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lexemes: list[Lexeme] = []
        self.open_columns: list[int] = []
        self.terms = 0

    def run(self) -> list[Lexeme]:
        text = self.text
        i, end = 0, len(text)
        while i < end:
            char = text[i]
            column = i + 1
            if char.isspace():
                i += 1
            elif char in _OPEN_PARENS:
                self.open_paren(char, column)
                i += 1
            elif char in _CLOSE_PARENS:
                self.close_paren(char, column)
                i += 1
            elif char in _OPEN_QUOTES:
                content, i = _read_quoted(text, i)
                self.lexemes.append(Lexeme("phrase", content, column))
                self.terms += 1
            elif char == "-" and i + 1 < end and not _ends_term(text[i + 1]):
                self.lexemes.append(Lexeme("minus", "-", column))
                i += 1
            elif char == "-":
                i += 1  # a lone dash is punctuation, not NOT
            else:
                i = self.word(i)
            if self.terms > MAX_TERMS:
                raise QueryError(
                    f"too many terms: the limit is {MAX_TERMS} (column {column})", column
                )
        if self.open_columns:
            column = self.open_columns[-1]
            raise QueryError(
                f"unbalanced parenthesis at column {column}: this ( is never closed", column
            )
        return self.lexemes

    def open_paren(self, char: str, column: int) -> None:
        self.open_columns.append(column)
        if len(self.open_columns) > MAX_DEPTH:
            raise QueryError(
                f"too deeply nested: more than {MAX_DEPTH} levels of parentheses (column {column})",
                column,
            )
        self.lexemes.append(Lexeme("lparen", char, column))

    def close_paren(self, char: str, column: int) -> None:
        if not self.open_columns:
            raise QueryError(
                f"unbalanced parenthesis at column {column}: nothing opened this )", column
            )
        self.open_columns.pop()
        self.lexemes.append(Lexeme("rparen", char, column))

    def word(self, start: int) -> int:
        """Read the operator, field or plain word at `start`; return the index after it."""
        text, end = self.text, len(self.text)
        column = start + 1
        i = start
        while i < end and not text[i].isspace() and text[i] not in _WORD_STOPS:
            i += 1
        word = text[start:i]
        operator = OPERATORS.get(word)
        name, colon, value = word.partition(":")
        if operator is not None:
            self.lexemes.append(Lexeme(operator, word, column))
            return i
        if colon and name.lower() in FIELDS:
            if not value and i < end and text[i] in _OPEN_QUOTES:
                value, i = _read_quoted(text, i)
            self.lexemes.append(Lexeme("field", value, column, name.lower()))
        else:
            self.lexemes.append(Lexeme("word", word, column))
        self.terms += 1
        return i


def _ends_term(char: str) -> bool:
    return char.isspace() or char in _CLOSE_PARENS or char == "-"


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """Return the text between the quote at `i` and its closing quote, and the index after."""
    for j in range(i + 1, len(text)):
        if text[j] in _CLOSE_QUOTES:
            return text[i + 1 : j], j + 1
    raise QueryError(f"unclosed quote at column {i + 1}", i + 1)
