"""What the query language accepts: its operators, fields and limits, and `QueryError`.

Syntax (precedence NOT > AND > OR; adjacent terms are ANDed)::

    export control          two words, both required
    "entity list"           a phrase: consecutive words
    a OR b, a AND b, NOT a  operators, upper-case only ("and", "or", "not" are words)
    -a, -"a b", -(a OR b)   NOT
    ( ... )                 grouping, at most MAX_DEPTH levels
    export*                 trailing wildcard: a prefix of a word, 2 characters or more
    feed:fr-bis             the item's feed id, exactly
    tag:us                  one of the item's tags (or its feed's), any case
    since:7d  since:24h  since:2w  since:2026-11-01
    before:...              the same forms, upper bound (exclusive)

A `name:value` word is a field only for the four names above; anything else
("10:30", "http://...") is an ordinary word. Smart quotes (“ ”), which Slack
clients type for '"', are quotes too.

Parsing is iterative where input controls the depth: the length, nesting and
term limits are checked while lexing, before any recursion, so a 1 MB query or
10,000 nested parentheses are refused in microseconds, never a RecursionError.
Every failure is a `QueryError` whose text says what and where.
"""

from __future__ import annotations

__all__ = ["FIELDS", "MAX_DEPTH", "MAX_QUERY_CHARS", "MAX_TERMS", "OPERATORS", "QueryError"]

MAX_QUERY_CHARS = 1000
MAX_DEPTH = 20
MAX_TERMS = 50
FIELDS = ("feed", "tag", "since", "before")
# The operator words (upper case only) and the lexeme kinds they become.
OPERATORS = {"AND": "and", "OR": "or", "NOT": "not"}


class QueryError(ValueError):
    """A query that cannot be parsed. `str(error)` is the sentence to show the user.

    `message` is that same sentence (it names the column where one helps);
    `column` is the 1-based column in the query text it points at, or None when
    the problem is the query as a whole (empty, only filler words).
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
