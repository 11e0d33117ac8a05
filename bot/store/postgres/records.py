"""The `records` table as a `RecordSource`: the record repositories (bot/store/records) on PG.

Values are JSON text (`codec.to_json` cleans them first, as TinyDB's source
does): jsonb would refuse a U+0000 that feed text can carry. Keys are cleaned
the same way, so a key with a lone surrogate finds its record again; a key
with U+0000 (which text columns refuse) is refused with StoreError.

Locks. Transactions do not take turns as a whole (store.py): a record read
in a transaction (`value`) is locked until COMMIT, so a read-modify-write
of one record (an alert merged into its owner's queue) never loses another
transaction's update. The row is read `FOR UPDATE`. A row lock cannot lock
a record that does not exist yet (two first alerts for one owner), so on a
miss a transaction advisory lock on (table, key) is taken and the row read
again. `put` and `delete` of a record the transaction did not read take the
key lock too. Row locks cost nothing in the server's shared lock table;
advisory locks take an entry each until COMMIT, so only misses and writes
of unread records take them (a poll of a thousand known feeds takes none),
and the importer, which writes every record of a data directory in one
transaction with the service stopped, takes none. A whole-table read (`values`) locks
nothing: a read-modify-write built on one reads each record it rewrites
again with `value` (AlertQueueRepo.discard_subscriptions does). So a check
over a whole table (a person's subscription cap) can be passed by two
replicas at the same moment. Two transactions that lock the same records in
opposite orders deadlock; PostgreSQL ends one of them (after
`deadlock_timeout`, 1 s) with an error and its work is rolled back.
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

    def __init__(self, db: Db, *, lock_keys: bool = True) -> None:
        self._db = db
        self._lock_keys = lock_keys and db.writable
        self._locked: set[tuple[str, str]] = set()  # this transaction's, row or key lock

    def value(self, table: str, key: str) -> Any:
        if not isinstance(key, str) or not key or "\x00" in key:
            return None
        key = clean_text(key)
        if not self._lock_keys:
            rows = self._db.rows(
                "SELECT value FROM records WHERE tbl = %s AND key = %s", (table, key)
            )
            return orjson.loads(rows[0][0]) if rows else None
        # In a transaction: locked to COMMIT (see the module docstring).
        statement = "SELECT value FROM records WHERE tbl = %s AND key = %s FOR UPDATE"
        rows = self._db.rows(statement, (table, key))
        if not rows and (table, key) not in self._locked:
            self._lock(table, key)
            rows = self._db.rows(statement, (table, key))  # committed meanwhile?
        self._locked.add((table, key))
        return orjson.loads(rows[0][0]) if rows else None

    def values(self, table: str) -> dict[str, Any]:
        rows = self._db.rows("SELECT key, value FROM records WHERE tbl = %s ORDER BY key", (table,))
        return {key: orjson.loads(value) for key, value in rows}

    def put(self, table: str, key: str, value: Any) -> None:
        self._writable()
        cleaned = to_json(value, f"{table} record {key!r}")
        key = _key(table, key)
        self._lock(table, key)
        self._db.run(
            "INSERT INTO records (tbl, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value",
            (table, key, orjson.dumps(cleaned).decode()),
        )

    def delete(self, table: str, key: str) -> None:
        self._writable()
        key = _key(table, key)
        self._lock(table, key)
        self._db.run("DELETE FROM records WHERE tbl = %s AND key = %s", (table, key))

    def _lock(self, table: str, key: str) -> None:
        if not self._lock_keys or (table, key) in self._locked:
            return
        self._locked.add((table, key))
        # The two-number form: a key space of its own, apart from the one-number
        # locks of the leader and of migrations. A hash collision only makes two
        # records take turns.
        self._db.rows("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (table, key))

    def _writable(self) -> None:
        if not self._db.writable:
            raise StoreReadOnlyError("writes go through store.transaction()")
