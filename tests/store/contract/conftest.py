"""The storage contract: every backend of `bot.store.ports.Store` runs these tests.

A backend joins by adding a `Backend` to BACKENDS: how to open a fresh store
in `tmp_path`, and how to open it again (after a close, as after a restart).
PostgreSQL's opens a fresh database of the test run's server
(tests/support/postgres.py), skipped with the reason when none can start.
The tests use only the ports (`store.items`, `store.transaction()`, ...), so
a test that passes here holds for every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.store.ports import Store
from bot.store.postgres.store import PgStore
from bot.store.tinydb.store import TinyStore
from tests.support.postgres import PostgresServer


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], Store]  # a store on `location`, created when missing
    needs_postgres: bool = False


class _Databases:
    """The database of the running test and the location it serves (set by `stores`).

    Not in a file: tmp_path is scanned for secrets, and the URL holds the
    password. A test that opens the backend at a new location (a property test,
    one fresh store per example) gets the database emptied: the stores of the
    previous location must be closed by then.
    """

    server: PostgresServer | None = None
    url = ""
    location: Path | None = None

    @classmethod
    def open(cls, location: Path) -> Store:
        assert cls.server is not None, "the stores fixture sets the database up"
        if location != cls.location:
            if cls.location is not None:
                cls.server.reset(cls.url)
            cls.location = location
        return PgStore.open(cls.url)


def _open_postgres(location: Path) -> Store:
    return _Databases.open(location)


BACKENDS = [
    Backend("tinydb", lambda location: TinyStore.open(location / "data")),
    Backend("postgres", _open_postgres, needs_postgres=True),
]


class Stores:
    """Opens and reopens the backend's store at one location; closes what it opened."""

    def __init__(self, backend: Backend, location: Path) -> None:
        self.backend = backend
        self.location = location
        self._open: list[Store] = []

    def open(self) -> Store:
        store = self.backend.open(self.location)
        self._open.append(store)
        return store

    def reopen(self, store: Store) -> Store:
        """Close `store` and open the same data again, as a restart would."""
        store.close()
        return self.open()

    def close_all(self) -> None:
        for store in self._open:
            store.close()


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    backend: Backend = request.param
    if backend.needs_postgres:
        _Databases.url = request.getfixturevalue("database_url")
        _Databases.server = request.getfixturevalue("postgres_server")
        _Databases.location = None
    opened = Stores(backend, tmp_path)
    yield opened
    opened.close_all()


@pytest.fixture
def store(stores: Stores) -> Store:
    return stores.open()
