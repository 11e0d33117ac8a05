"""The storage contract: every backend of `bot.store.ports.Store` runs these tests.

A backend joins by adding a `Backend` to BACKENDS: how to open a fresh store
in `tmp_path`, and how to open it again (after a close, as after a restart).
The tests use only the ports (`store.items`, `store.transaction()`, ...), so
a test that passes here holds for every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.store.ports import Store
from bot.store.tinydb.store import TinyStore


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], Store]  # a store on `location`, created when missing


BACKENDS = [Backend("tinydb", lambda location: TinyStore.open(location / "data"))]


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
    opened = Stores(request.param, tmp_path)
    yield opened
    opened.close_all()


@pytest.fixture
def store(stores: Stores) -> Store:
    return stores.open()
