"""Items turned into terms and into `MatchDoc`s, quickly (every search engine, `brief.ask`).

Items are analyzed with `textindex.fold_and_tokenize`, which splits ASCII-like
text (most English news) 4-5 times faster than the regex of
`textindex.tokenize`, and stems through a cache of `stem_token`.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.find.query.document import MatchDoc, join_fields
from bot.find.query.nodes import aware
from bot.find.textindex import fold_and_tokenize, fold_text, stem_token
from bot.models import Item

__all__ = ["analyze_fast", "prepare_doc_fast", "stem_all"]

_STEM_CACHE_MAX = 500_000
_stem_cache: dict[str, str] = {}


def stem_all(tokens: list[str]) -> list[str]:
    """`stem_token` of each token, through a cache."""
    # A token is never empty, nor is its stem: `or` only calls on a cache miss.
    get = _stem_cache.get
    return [get(token) or _stem_miss(token) for token in tokens]


def _stem_miss(token: str) -> str:
    if len(_stem_cache) > _STEM_CACHE_MAX:
        _stem_cache.clear()
    stem = _stem_cache[token] = stem_token(token)
    return stem


def analyze_fast(text: str) -> tuple[list[str], list[str]]:
    """Return (raw tokens, stemmed tokens) of `text`, as textindex would produce them."""
    raw = fold_and_tokenize(text)[1]
    return raw, stem_all(raw)


def prepare_doc_fast(item: Item, feed_tags: Iterable[str] = ()) -> MatchDoc:
    """Return exactly `prepare_doc(item, feed_tags=feed_tags)`, in a fraction of the time."""
    folded_title, raw_title = fold_and_tokenize(item.title)
    folded_summary, raw_summary = fold_and_tokenize(item.summary)
    title = stem_all(raw_title)
    summary = stem_all(raw_summary)
    tokens = frozenset(title) | frozenset(summary)
    every_form = tokens.union(raw_title, raw_summary)
    # bot.find.query.document's wildcard keys: "*" and the first 2 and 3 characters.
    heads = {"*" + token[:2] for token in every_form}
    heads.update("*" + token[:3] for token in every_form)
    return MatchDoc(
        tokens=tokens,
        keys=tokens.union(heads),
        stemmed_text=join_fields(title, summary),
        raw_text=join_fields(raw_title, raw_summary),
        folded_text=f"{folded_title}\n{folded_summary}",
        feed_id=item.feed_id,
        tags=frozenset(fold_text(tag).strip() for tag in (*item.tags, *feed_tags)),
        when=aware(item.when),
    )
