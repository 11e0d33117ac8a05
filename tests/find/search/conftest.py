"""`search_backend`: runs a search test on both engines, the SQLite FTS5 index file
(`bot.store.searchdb`) and PostgreSQL's search.

A module opts in with `pytestmark = pytest.mark.usefixtures("search_backend")`;
its `searchable` (tests/find/search/sample.py) then builds the index of the
backend under test. PostgreSQL runs are skipped with the reason only when no
server can be started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.postgres.store import PgStore
from bot.store.searchdb.index import FtsIndex
from tests.find.search.sample import _Backend


@pytest.fixture(params=["sqlite", "postgres"])
def search_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        made: list[FtsIndex] = []

        def open_file(feed_tags: dict[str, tuple[str, ...]] | None) -> FtsIndex:
            directory = tmp_path / f"index-{len(made)}"
            directory.mkdir()
            index = FtsIndex(directory, feed_tags=feed_tags)
            made.append(index)
            return index

        _Backend.open_file = open_file
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        urls: list[str] = []

        def open_database() -> PgStore:
            url = server.database()
            urls.append(url)
            return PgStore.open(url)

        _Backend.open_database = open_database
    try:
        yield str(request.param)
    finally:
        _Backend.open_database = None
        _Backend.open_file = None
        if request.param == "sqlite":
            for index in made:
                index.close()
        for store in _Backend.opened:
            store.close()
        _Backend.opened.clear()
        if request.param == "postgres":
            for url in urls:
                server.release(url)
