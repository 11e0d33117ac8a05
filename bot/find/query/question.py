"""Plain-language questions ("what's new on IPEF") turned into queries ("IPEF").

A line that already uses query syntax is left as it is; otherwise filler words
are dropped and time phrases ("this week") become `since:` filters.
"""

from __future__ import annotations

import re

from bot.find.query.matcher import Query
from bot.find.query.parser import parse_query
from bot.find.query.syntax import OPERATORS, QueryError
from bot.find.textindex import tokenize

__all__ = ["parse_question", "question_to_query", "uses_query_syntax"]

# Filler of questions put to a news bot. Compared with folded, unstemmed words.
_FILLER_WORDS = """
    a about all an and any anything are articles article at be been being by can could
    did do does done else every everything find for from get give going got happened
    happening has have hear heard hey hi how i in info information into is it item items
    its just know latest lately let me more most my new news newest not of on or our out
    please re recent recently regarding related show some something stories story stuff
    tell that the there these this those to up update updates us was we were what whats
    when where which who why will with would you your
"""
_FILLER = frozenset(_FILLER_WORDS.split())
# Time phrases of a question, as `since:` filters. Keys are folded word tuples.
_TIME_PHRASES = {
    ("today",): "since:24h",
    ("yesterday",): "since:48h",
    ("this", "week"): "since:7d",
    ("past", "week"): "since:7d",
    ("last", "week"): "since:7d",
    ("this", "month"): "since:30d",
    ("past", "month"): "since:30d",
    ("last", "month"): "since:30d",
    ("this", "year"): "since:365d",
    ("past", "year"): "since:365d",
    ("last", "year"): "since:365d",
}
_RECENT_SPAN_RE = re.compile(r"(?:past|last)\s+(\d{1,3})\s+(hour|day|week)s?\b")
_SYNTAX_RE = re.compile(
    r"""["“”„＂()（）*]|(?:^|\s)-\S|\b(?:AND|OR|NOT)\b|(?:^|\s)(?:feed|tag|since|before):""",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION_RE = re.compile(r"^[\W_]+|[\W_]+$")


def uses_query_syntax(text: str) -> bool:
    """Whether `text` is written in query syntax (quotes, parentheses, AND/OR/NOT, fields)."""
    for found in _SYNTAX_RE.finditer(text):
        # Operators count only in upper case; the regex is case-insensitive for fields.
        if found.group().strip().lower() not in ("and", "or", "not") or found.group() in OPERATORS:
            return True
    return False


def question_to_query(text: str) -> str:
    """Turn a line of plain words into query text: filler dropped, subject kept.

    "what's new on IPEF" becomes "IPEF"; "anything about rare earth exports
    this week?" becomes "rare earth exports since:7d". A line that already uses
    query syntax (quotes, parentheses, AND/OR/NOT, -word, word*, fields) is
    returned unchanged. A word in capitals is kept even if it is filler ("US"),
    unless the whole line is in capitals. The subject words are ANDed; ranking
    is left to search.
    """
    if uses_query_syntax(text):
        return text
    shouting = text.upper() == text
    words: list[str] = []
    for chunk in text.split():
        word = _EDGE_PUNCTUATION_RE.sub("", chunk)
        if word:
            words.append(word)
    folded = [" ".join(tokenize(word)) for word in words]
    time_filter = ""
    kept: list[str] = []
    i = 0
    while i < len(words):
        pair = tuple(folded[i : i + 2])
        span = _RECENT_SPAN_RE.fullmatch(" ".join(folded[i : i + 3]))
        if span is not None:
            time_filter = f"since:{span.group(1)}{span.group(2)[0]}"
            i += 3
        elif pair in _TIME_PHRASES:
            time_filter = _TIME_PHRASES[pair]
            i += 2
        elif pair[:1] in _TIME_PHRASES:
            time_filter = _TIME_PHRASES[pair[:1]]
            i += 1
        else:
            tokens = folded[i].split()
            acronym = words[i].isupper() and len(words[i]) > 1 and not shouting
            if acronym or not all(token in _FILLER for token in tokens):
                kept.append(words[i])
            i += 1
    if time_filter:
        kept.append(time_filter)
    return " ".join(kept)


def parse_question(text: str) -> Query:
    """Parse a line from a user: query syntax as a query, plain words as a question.

    Raises `QueryError` as `parse_query` does, or when the line is only filler.
    """
    converted = question_to_query(text)
    if not converted.strip() and text.strip():
        raise QueryError(
            "the question names no subject: say what to look for, as in what's new on IPEF"
        )
    return parse_query(converted)
