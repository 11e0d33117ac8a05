"""What a search returns: `SearchResults`, a page of `SearchHit`s, and `mark_spans` to bold them.

A hit's snippet and spans come from `bot.find.search.snippets`; MAX_LIMIT is
the largest page a search gives (every engine: `engine.SearchEngine`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.find.query.matcher import Query
from bot.models import Item

__all__ = ["MAX_LIMIT", "SearchHit", "SearchResults", "Span", "check_page", "mark_spans"]

#: The most hits one search returns.
MAX_LIMIT = 200


def check_page(limit: int, offset: int) -> None:
    """Refuse a page no engine gives: `limit` outside 1..MAX_LIMIT, a negative `offset`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")


Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One story in the results.

    `snippet` is about SNIPPET_CHARS of the summary around the first match (the
    summary's start when only the title matches; the title when there is no
    summary), cut on word boundaries, "…" marking a cut. `spans` are (start,
    end) offsets of the matched words in `snippet`, `title_spans` the same in
    `item.title`: the renderer bolds them (see `mark_spans`). `also_in` holds
    the feed ids of other copies of the same story.
    """

    item: Item
    score: float
    snippet: str
    spans: tuple[Span, ...]
    title_spans: tuple[Span, ...] = ()
    also_in: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResults:
    """A page of hits and how many stories matched in all.

    `total_exact` is False when the total was estimated (too many suspects,
    see MAX_VERIFY); `complete` is False when the index was still being built
    (or its build failed) and the search answered from part of it.
    """

    query: Query
    hits: tuple[SearchHit, ...]
    total: int
    took_ms: float
    offset: int = 0
    total_exact: bool = True
    complete: bool = True


def mark_spans(
    text: str,
    spans: Iterable[Span],
    mark: Callable[[str], str],
    escape: Callable[[str], str] = lambda part: part,
) -> str:
    """Return `text` with each span passed through `mark` and everything through `escape`.

    For Slack: `mark_spans(hit.snippet, hit.spans, lambda s: f"*{s}*", escape_mrkdwn)`.
    Escaping happens per piece, so offsets stay right however escaping changes lengths.
    """
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or end > len(text) or start >= end:
            continue
        out.append(escape(text[pos:start]))
        out.append(mark(escape(text[start:end])))
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)
