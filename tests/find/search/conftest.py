"""`search_backend`: runs a search test on the in-memory index and on PostgreSQL's search.

A module opts in with `pytestmark = pytest.mark.usefixtures("search_backend")`;
its `searchable` (tests/find/search/sample.py) then builds the index of the
backend under test. PostgreSQL runs are skipped with the reason only when no
server can be started.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.store.postgres.store import PgStore
from tests.find.search.sample import _Backend


@pytest.fixture(params=["memory", "postgres"])
def search_backend(request: pytest.FixtureRequest) -> Iterator[str]:
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
        for store in _Backend.opened:
            store.close()
        _Backend.opened.clear()
        if request.param == "postgres":
            for url in urls:
                server.release(url)
