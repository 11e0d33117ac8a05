"""Items, indexes and searches for the search tests; each result is checked against the language.

`searchable` makes items searchable on the engine the `search_backend` fixture
(tests/find/search/conftest.py) runs a test on: on SQLite it indexes them in
a fresh `search.sqlite` file, on PostgreSQL it stores them in a fresh
database (seqs kept) and returns the database's search. A test module that
uses the fixture and `searchable` runs on both engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.find.search.results import SearchResults
from bot.models import Item
from bot.store.postgres.db import Pooled
from bot.store.postgres.importer import import_items
from bot.store.postgres.search import PgSearch
from bot.store.postgres.store import PgStore
from bot.store.searchdb.index import FtsIndex

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


class _Backend:
    """Where `searchable` puts items: a PostgreSQL store or an SQLite index file (set by
    the fixture)."""

    open_database: Callable[[], PgStore] | None = None
    opened: ClassVar[list[PgStore]] = []
    open_file: Callable[[dict[str, tuple[str, ...]] | None], FtsIndex] | None = None


class StoredSearch(PgSearch):
    """PostgreSQL's search over a test's store; `add` stores more items (seqs kept)."""

    def __init__(self, store: PgStore, feed_tags: dict[str, tuple[str, ...]] | None) -> None:
        super().__init__(Pooled(store.pool), feed_tags=feed_tags)
        self.store = store

    def add(self, item: Item) -> None:
        self.add_many([item])

    def add_many(self, items: Iterable[Item]) -> None:
        with self.store.transaction() as tx:
            import_items(tx, items)


def searchable(
    *items: Item, feed_tags: dict[str, tuple[str, ...]] | None = None
) -> StoredSearch | FtsIndex:
    """`items` searchable on the backend under test (see the module docstring)."""
    if _Backend.open_file is not None:
        index = _Backend.open_file(feed_tags)
        index.add_many(items)
        return index
    if _Backend.open_database is not None:
        store = _Backend.open_database()
        _Backend.opened.append(store)
        stored = StoredSearch(store, feed_tags)
        stored.add_many(items)
        return stored
    raise AssertionError("searchable() needs the search_backend fixture (conftest.py)")


def search(index: PgSearch | FtsIndex, text: str, **kwargs: Any) -> SearchResults:
    results = index.search(parse_query(text), now=NOW, **kwargs)
    assert_agrees_with_language(index, results)
    return results


def assert_agrees_with_language(index: PgSearch | FtsIndex, results: SearchResults) -> None:
    """Every hit satisfies the query as the query module reads it."""
    for hit in results.hits:
        feed_tags = index._feed_tags.get(hit.item.feed_id, ())
        doc = prepare_doc(hit.item, feed_tags=feed_tags)
        assert results.query.matches(doc, now=NOW), (results.query, hit.item.title)


def seqs(results: SearchResults) -> list[int]:
    return [hit.item.seq for hit in results.hits]
