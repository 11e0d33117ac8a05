"""state.json: feed states, record tables and the seq high-water mark, as one TinyDB file.

Layout (TinyDB's: tables of documents by id): `feeds` holds one document per
feed, `{"key": feed_id, "value": {...}}`; each record table `rec_<name>`
holds `{"key": ..., "value": {...}}` documents the same way; `_meta` holds the
schema version and `seq_high_water`. Which record tables exist and what their
values hold is `bot/store/records/values.py`'s business.

Like the shards, a StateFile is never changed in place: `changed()` returns
the next version (tables copied on write), written and then swapped in.
TinyDB's own table methods rebuild a whole table per insert
(`Table._update_table`); documents are set here in O(1) instead, which is
safe because nothing uses TinyDB's query cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage

from bot.store.records.repos import FEEDS_TABLE, RECORD_PREFIX
from bot.store.tinydb.migrations import META_DOC, META_TABLE, SCHEMA_VERSION, read_tables

__all__ = ["DELETED", "FEEDS_TABLE", "RECORD_PREFIX", "StateFile"]


class _Deleted:
    def __repr__(self) -> str:
        return "DELETED"


#: A staged change that removes the document with that key.
DELETED: Any = _Deleted()


class _MemoryStorage(Storage):
    """A TinyDB storage that holds the data in memory (the file is written by `files`)."""

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.data = data

    def read(self) -> dict[str, dict[str, Any]] | None:
        # TinyDB treats None as "empty database".
        return self.data or None

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data


class StateFile:
    """One version of state.json, in memory."""

    def __init__(
        self,
        path: Path,
        data: dict[str, dict[str, Any]],
        *,
        dirty: bool,
        index: dict[str, dict[str, int]] | None = None,
        next_ids: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.storage = _MemoryStorage(data)
        self.dirty = dirty
        self._index: dict[str, dict[str, int]] = index if index is not None else {}
        self._next_ids: dict[str, int] = next_ids if next_ids is not None else {}

    @classmethod
    def create(cls, path: Path) -> StateFile:
        data = {META_TABLE: {META_DOC: {"schema": SCHEMA_VERSION, "kind": "state"}}}
        return cls(path, data, dirty=True)

    @classmethod
    def load(cls, path: Path) -> StateFile:
        data, migrated = read_tables(path, "state")
        return cls(path, data, dirty=migrated)

    @property
    def data(self) -> dict[str, dict[str, Any]]:
        return self.storage.data

    @property
    def high_water(self) -> Any:
        return self.data.get(META_TABLE, {}).get(META_DOC, {}).get("seq_high_water", 0)

    def tables(self) -> list[str]:
        return list(self.data)

    def get(self, table: str, key: str) -> Any:
        """The stored value under `key` (shared: callers copy before changing it), or None."""
        doc_id = self._table_index(table).get(key)
        return None if doc_id is None else self.data[table][str(doc_id)]["value"]

    def values(self, table: str) -> dict[str, Any]:
        """Every value of the table by key (shared: callers copy before changing them)."""
        return {doc["key"]: doc["value"] for doc in self.data.get(table, {}).values()}

    def changed(
        self, changes: Mapping[str, Mapping[str, Any]], *, high_water: int | None = None
    ) -> StateFile:
        """The next version: each table's `{key: value or DELETED}` applied, tables copied."""
        data = dict(self.data)
        index = dict(self._index)
        next_ids = dict(self._next_ids)
        for table, puts in changes.items():
            docs = dict(data.get(table, {}))
            keys = dict(self._table_index(table))
            next_id = next_ids.get(table) or max((int(k) for k in docs), default=0) + 1
            for key, value in puts.items():
                doc_id = keys.get(key)
                if value is DELETED:
                    if doc_id is not None:
                        del keys[key]
                        docs.pop(str(doc_id), None)
                    continue
                if doc_id is None:
                    doc_id, next_id = next_id, next_id + 1
                    keys[key] = doc_id
                docs[str(doc_id)] = {"key": key, "value": value}
            data[table], index[table], next_ids[table] = docs, keys, next_id
        new = StateFile(self.path, data, dirty=True, index=index, next_ids=next_ids)
        if high_water is not None and high_water > self.high_water:
            # The one place TinyDB's own API writes: a one-document table.
            meta = {META_DOC: dict(data.get(META_TABLE, {}).get(META_DOC, {}))}
            data[META_TABLE] = meta
            TinyDB(storage=lambda: new.storage).table(META_TABLE).update(
                {"seq_high_water": high_water}, doc_ids=[int(META_DOC)]
            )
        return new

    def serialize(self) -> bytes:
        return orjson.dumps(self.data)

    def _table_index(self, table: str) -> dict[str, int]:
        index = self._index.get(table)
        if index is None:
            index = {doc["key"]: int(doc_id) for doc_id, doc in self.data.get(table, {}).items()}
            self._index[table] = index
        return index
