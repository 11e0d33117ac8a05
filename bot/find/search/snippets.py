"""Snippets and highlight spans: where a hit's matched words stand in its original text.

A `Highlighter` finds the query's positive terms in the unfolded title and
summary (offsets in the text as stored, whatever folding does to lengths) and
cuts about SNIPPET_CHARS around the first match.
"""

from __future__ import annotations

import re

from bot.find.query.matcher import Query
from bot.find.search.analysis import analyze_fast, stem_all
from bot.find.search.results import SearchHit, Span
from bot.find.textindex import ascii_token_spans, fold_text, is_cjk
from bot.models import Item

__all__ = ["SNIPPET_CHARS", "Highlighter"]

#: Characters of summary (or title) shown around the first match, ellipses not counted.
SNIPPET_CHARS = 160
_ELLIPSIS = "…"
# Runs of word characters in the original (unfolded) text, for highlighting.
_RUN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
#: Runs analyzed (`_analyze_run`) kept at most: about 3 MB.
_RUN_CACHE_MAX = 20_000
_run_cache: dict[str, tuple[tuple[str, str], ...]] = {}


class Highlighter:
    """Finds the query's positive terms in original text, for snippets and bolding."""

    def __init__(self, query: Query) -> None:
        self.words: set[str] = set()
        self.phrases: list[tuple[str, ...]] = []
        self.prefixes: list[tuple[tuple[str, ...], str]] = []
        self.cjk: list[str] = []
        for term in query.positive_terms():
            if term.endswith("*"):
                *head, prefix = term[:-1].split(" ")
                self.prefixes.append((tuple(head), prefix))
            elif len(term) == 1 and is_cjk(term):
                self.cjk.append(term)
            elif " " in term:
                tokens = tuple(term.split(" "))
                if all(is_cjk(token) for token in tokens):
                    self.cjk.append(tokens[0] + "".join(token[-1] for token in tokens[1:]))
                else:
                    self.phrases.append(tokens)
            elif is_cjk(term):
                self.cjk.append(term)
            else:
                self.words.add(term)

    def spans(self, text: str) -> tuple[Span, ...]:
        """Offsets in `text` of the words that match the query's positive terms."""
        found: list[Span] = []
        tokens = _tokens_with_offsets(text)
        if self.cjk:
            for run in _RUN_RE.finditer(text):
                folded = fold_text(run.group())
                if any(word in folded for word in self.cjk):
                    found.append(run.span())
        stems = [token[0] for token in tokens]
        for i, (stem, _, start, end) in enumerate(tokens):
            if stem in self.words:
                found.append((start, end))
            for phrase in self.phrases:
                if stem == phrase[0] and tuple(stems[i : i + len(phrase)]) == phrase:
                    found.append((start, tokens[i + len(phrase) - 1][3]))
            for head, prefix in self.prefixes:
                at = i + len(head)
                if at < len(tokens) and tuple(stems[i:at]) == head:
                    last_stem, last_raw, _, last_end = tokens[at]
                    if last_stem.startswith(prefix) or last_raw.startswith(prefix):
                        found.append((start, last_end))
        return _merge(found)

    def hit(self, item: Item, score: float, also_in: tuple[str, ...] = ()) -> SearchHit:
        """`item` as a search hit: its snippet, the matched words marked (every engine's)."""
        snippet, spans = self.snippet(item)
        return SearchHit(
            item=item,
            score=score,
            snippet=snippet,
            spans=spans,
            title_spans=self.spans(item.title),
            also_in=also_in,
        )

    def snippet(self, item: Item) -> tuple[str, tuple[Span, ...]]:
        """About SNIPPET_CHARS of the summary (else the title) around the first match."""
        text = item.summary or item.title
        spans = self.spans(text)
        return _window(text, spans)


def _tokens_with_offsets(text: str) -> list[tuple[str, str, int, int]]:
    """(stem, raw token, start, end) of each token of `text`, offsets in `text` itself."""
    if text.isascii():
        found = ascii_token_spans(text)
        stems = stem_all([raw for raw, _, _ in found])
        return [
            (stem, raw, start, end) for stem, (raw, start, end) in zip(stems, found, strict=True)
        ]
    # Folding may change lengths ("ﬁ" is "fi"): analyze each run of word
    # characters alone and give its tokens the run's offsets.
    tokens: list[tuple[str, str, int, int]] = []
    get = _run_cache.get
    for run in _RUN_RE.finditer(text):
        word = run.group()
        analyzed = get(word) or _analyze_run(word)
        start, end = run.span()
        tokens.extend((stem, token, start, end) for token, stem in analyzed)
    return tokens


def _analyze_run(word: str) -> tuple[tuple[str, str], ...]:
    """(raw token, stem) of each token of a run of word characters, kept in a cache:
    a hit's non-ASCII text is analyzed run by run, and runs (words) repeat."""
    if len(_run_cache) > _RUN_CACHE_MAX:
        _run_cache.clear()
    raw, stems = analyze_fast(word)
    found = _run_cache[word] = tuple(zip(raw, stems, strict=True))
    return found


def _merge(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _window(text: str, spans: tuple[Span, ...]) -> tuple[str, tuple[Span, ...]]:
    """Cut `text` to about SNIPPET_CHARS around its first span, on word boundaries."""
    if len(text) <= SNIPPET_CHARS:
        return text, spans
    first_start, first_end = spans[0] if spans else (0, 0)
    start = 0
    if first_start > SNIPPET_CHARS // 3:
        # Some context before the match, starting at a word.
        start = first_start - SNIPPET_CHARS // 3
        space = text.find(" ", start, first_start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", max(first_end, start + 1), end + 1)
        if space > start:
            end = space
    piece = text[start:end].rstrip()
    lead = _ELLIPSIS if start > 0 else ""
    tail = _ELLIPSIS if start + len(piece) < len(text) else ""
    shift = len(lead) - start
    kept = tuple(
        (s + shift, min(e, start + len(piece)) + shift)
        for s, e in spans
        if s >= start and s < start + len(piece)
    )
    return f"{lead}{piece}{tail}", kept
