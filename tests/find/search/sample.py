"""Items, indexes and searches for the search tests; each result is checked against the language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.find.search.index import SearchIndex
from bot.find.search.results import SearchResults
from bot.models import Item

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def make_item(
    seq: int,
    title: str,
    summary: str = "",
    *,
    feed_id: str = "fr-bis",
    tags: tuple[str, ...] = (),
    age: timedelta = timedelta(days=1),
    extras: dict[str, Any] | None = None,
) -> Item:
    return Item(
        id=f"item-{seq}",
        feed_id=feed_id,
        title=title,
        summary=summary,
        link=f"https://example.org/{seq}",
        tags=tags,
        published=NOW - age,
        seq=seq,
        extras=extras or {},
    )


def index_of(*items: Item, feed_tags: dict[str, tuple[str, ...]] | None = None) -> SearchIndex:
    index = SearchIndex(feed_tags=feed_tags)
    index.add_many(items)
    return index


def search(index: SearchIndex, text: str, **kwargs: Any) -> SearchResults:
    results = index.search(parse_query(text), now=NOW, **kwargs)
    assert_agrees_with_language(index, results)
    return results


def assert_agrees_with_language(index: SearchIndex, results: SearchResults) -> None:
    """Every hit satisfies the query as the query module reads it."""
    for hit in results.hits:
        feed_tags = index._feed_tags.get(hit.item.feed_id, ())
        doc = prepare_doc(hit.item, feed_tags=feed_tags)
        assert results.query.matches(doc, now=NOW), (results.query, hit.item.title)


def seqs(results: SearchResults) -> list[int]:
    return [hit.item.seq for hit in results.hits]
