"""Items prepared once (`MatchDoc`) for matching against many queries.

Matching runs over title and summary, through `bot.find.textindex.analyze`: case,
accents and full-width forms folded, English plurals reduced ("export controls"
matches "export control" and "entities" matches "entity"). A word that
analyzes to several tokens ("Indo-Pacific", "U.S.") is a phrase. Phrases do
not run from the title into the summary.

Chinese, Japanese and Korean: analysis cuts CJK runs into overlapping bigrams,
so a CJK word or phrase matches wherever it occurs as a substring of a CJK run
("安全保障" matches "経済安全保障推進法"). A single CJK character is matched as a
substring of the folded title and summary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.find.query.nodes import aware
from bot.find.textindex import fold_text, stem_token, tokenize_folded

if TYPE_CHECKING:
    from bot.models import Item

__all__ = ["MatchDoc", "join_fields", "prepare_doc", "wildcard_key"]


@dataclass(frozen=True, slots=True)
class MatchDoc:
    """An item normalized once, so that each query costs only set and substring tests.

    `stemmed_text` and `raw_text` are the tokens joined by single spaces with a
    leading and trailing space and a newline between title and summary: a
    phrase is then a substring " a b " that cannot cross from title to summary.
    `keys` is `tokens` plus "*" and the first 2 and 3 characters of every
    token, stemmed or not: what wildcard queries are indexed under (see
    `Query.trigger_keys`).
    """

    tokens: frozenset[str]
    keys: frozenset[str]
    stemmed_text: str
    raw_text: str
    folded_text: str
    feed_id: str
    tags: frozenset[str]
    when: datetime


def prepare_doc(item: Item, *, feed_tags: Iterable[str] = ()) -> MatchDoc:
    """Normalize `item` for matching; `feed_tags` (its feed's tags) count for `tag:` too."""
    folded_title = fold_text(item.title)
    folded_summary = fold_text(item.summary)
    raw_title = tokenize_folded(folded_title)
    raw_summary = tokenize_folded(folded_summary)
    title = [stem_token(token) for token in raw_title]
    summary = [stem_token(token) for token in raw_summary]
    tokens = frozenset(title) | frozenset(summary)
    every_form = tokens.union(raw_title, raw_summary)
    heads = {wildcard_key(token[:2]) for token in every_form}
    heads.update(wildcard_key(token[:3]) for token in every_form)
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


def wildcard_key(prefix: str) -> str:
    """The `MatchDoc.keys` entry for wildcards that start with `prefix` (3 characters at most)."""
    # "*" never occurs inside a token, so these keys cannot collide with one.
    return "*" + prefix[:3]


def join_fields(title: list[str], summary: list[str]) -> str:
    """Title and summary tokens as `MatchDoc.stemmed_text` and `raw_text` hold them."""
    return f" {' '.join(title)} \n {' '.join(summary)} "
