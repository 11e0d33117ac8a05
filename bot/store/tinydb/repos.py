"""TinyDB's record sources: state.json as committed, or a transaction's changes over it.

The repositories themselves are backend-neutral (`bot.store.records.repos`), each
over a `RecordSource`; these are TinyDB's two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.store.ports import StoreError, StoreReadOnlyError
from bot.store.records.codec import clean_text, to_json
from bot.store.tinydb.statefile import DELETED, StateFile

__all__ = ["CommittedRecords", "StagedRecords"]


class CommittedRecords:
    """The store's current state.json (each call reads the latest committed version).

    Keys are cleaned as they were when stored (`clean_text`), so a key with a
    lone surrogate finds its record again.
    """

    def __init__(self, current: Callable[[], StateFile]) -> None:
        self._current = current

    def value(self, table: str, key: str) -> Any:
        return self._current().get(table, clean_text(key))

    def values(self, table: str) -> dict[str, Any]:
        return self._current().values(table)

    def put(self, table: str, key: str, value: Any) -> None:
        raise StoreReadOnlyError("writes go through store.transaction()")

    def delete(self, table: str, key: str) -> None:
        raise StoreReadOnlyError("writes go through store.transaction()")


class StagedRecords:
    """A transaction's changes (`changes`: table -> key -> value or DELETED) over `base`."""

    def __init__(self, base: StateFile, changes: dict[str, dict[str, Any]]) -> None:
        self._base = base
        self.changes = changes

    def value(self, table: str, key: str) -> Any:
        key = clean_text(key)
        staged = self.changes.get(table, {})
        if key in staged:
            value = staged[key]
            return None if value is DELETED else value
        return self._base.get(table, key)

    def values(self, table: str) -> dict[str, Any]:
        found = self._base.values(table)
        for key, value in self.changes.get(table, {}).items():
            if value is DELETED:
                found.pop(key, None)
            else:
                found[key] = value
        return found

    def put(self, table: str, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key:
            raise StoreError(f"a key in {table} must be a non-empty text, not {key!r}")
        cleaned = to_json(value, f"{table} record {key!r}")
        self.changes.setdefault(table, {})[clean_text(key)] = cleaned

    def delete(self, table: str, key: str) -> None:
        self.changes.setdefault(table, {})[clean_text(key)] = DELETED
