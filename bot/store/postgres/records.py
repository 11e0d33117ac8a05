"""The `records` table as a `RecordSource`: the record repositories (bot/store/records) on PG.

Values are JSON text (`codec.to_json` cleans them first, as TinyDB's source
does): jsonb would refuse a U+0000 that feed text can carry. Keys are cleaned
the same way, so a key with a lone surrogate finds its record again; a key
with U+0000 (which text columns refuse) is refused with StoreError.
"""

from __future__ import annotations

from typing import Any

import orjson

from bot.store.ports import StoreError, StoreReadOnlyError
from bot.store.postgres.db import Db
from bot.store.records.codec import clean_text, to_json

__all__ = ["PgRecords"]


def _key(table: str, key: str) -> str:
    if not isinstance(key, str) or not key:
        raise StoreError(f"a key in {table} must be a non-empty text, not {key!r}")
    cleaned = clean_text(key)
    if "\x00" in cleaned:
        raise StoreError(f"a key in {table} cannot hold U+0000: {key!r}")
    return cleaned


class PgRecords:
    """(table, key) -> JSON value over the `records` table, committed or in a transaction."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def value(self, table: str, key: str) -> Any:
        if not isinstance(key, str) or not key or "\x00" in key:
            return None
        rows = self._db.rows(
            "SELECT value FROM records WHERE tbl = %s AND key = %s", (table, clean_text(key))
        )
        return orjson.loads(rows[0][0]) if rows else None

    def values(self, table: str) -> dict[str, Any]:
        rows = self._db.rows("SELECT key, value FROM records WHERE tbl = %s ORDER BY key", (table,))
        return {key: orjson.loads(value) for key, value in rows}

    def put(self, table: str, key: str, value: Any) -> None:
        self._writable()
        cleaned = to_json(value, f"{table} record {key!r}")
        self._db.run(
            "INSERT INTO records (tbl, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value",
            (table, _key(table, key), orjson.dumps(cleaned).decode()),
        )

    def delete(self, table: str, key: str) -> None:
        self._writable()
        self._db.run("DELETE FROM records WHERE tbl = %s AND key = %s", (table, _key(table, key)))

    def _writable(self) -> None:
        if not self._db.writable:
            raise StoreReadOnlyError("writes go through store.transaction()")
