"""What PostgreSQL indexes of an item: a tsvector of briefbot's own tokens, folded text, tags.

The tsvector is written out here, not made by PostgreSQL's parsers: those
split differently from `bot.find.textindex` (a Japanese run is one token to
them) and stem English their own way, so a query translated from briefbot's
language could miss. Each position holds the analyzer's stemmed token and,
when it differs, the raw one ("chip" and "chips" at position 3), which is
what `chips*` needs; the summary starts one position after a gap, so a phrase
never runs from the title into it. Title lexemes carry weight A, summary
lexemes D, for ranking. CJK runs are overlapping bigrams, as in the analyzer,
so a CJK word is a phrase of bigrams and matches inside a longer run.

PostgreSQL keeps positions up to 16,383 (later ones count as 16,383) and
lexemes under 2 KB: the few tokens past that are dropped, and a search
re-checks every candidate with the query's own matcher anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.find.search.analysis import stem_all
from bot.find.textindex import fold_and_tokenize, fold_text
from bot.models import Item

__all__ = ["MAX_POSITION", "SearchDoc", "quote_lexeme", "search_doc"]

MAX_POSITION = 16_383
_MAX_LEXEME_BYTES = 1_000


@dataclass(frozen=True, slots=True)
class SearchDoc:
    tsvector: str  # tsvector input syntax
    folded: str
    tags: list[str]


def quote_lexeme(token: str) -> str:
    """`token` as a quoted lexeme of tsvector and tsquery input."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def search_doc(item: Item) -> SearchDoc:
    folded_title, raw_title = fold_and_tokenize(item.title)
    folded_summary, raw_summary = fold_and_tokenize(item.summary)
    positions: dict[str, list[str]] = {}
    _place(positions, raw_title, 1, "A")
    _place(positions, raw_summary, len(raw_title) + 2, "D")
    text = " ".join(f"{quote_lexeme(token)}:{','.join(at)}" for token, at in positions.items())
    folded = f"{folded_title}\n{folded_summary}".replace("\x00", " ")
    tags = sorted({fold_text(tag).strip().replace("\x00", " ") for tag in item.tags})
    return SearchDoc(tsvector=text, folded=folded, tags=tags)


def _place(positions: dict[str, list[str]], raw: list[str], start: int, weight: str) -> None:
    stems = stem_all(raw)
    for offset, (token, stem) in enumerate(zip(raw, stems, strict=True)):
        at = start + offset
        if at > MAX_POSITION:
            return
        mark = f"{at}{weight}"
        for form in (stem, token) if token != stem else (stem,):
            if len(form.encode("utf-8")) <= _MAX_LEXEME_BYTES and "\x00" not in form:
                positions.setdefault(form, []).append(mark)
