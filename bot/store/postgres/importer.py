"""Writing stored data as it is, seqs kept: what `briefbot migrate --from-data-dir` copies in.

Unlike `tx.items.add`, which gives new items the next seqs, these keep each
item's seq, first-seen time and backlog flag, because cursors (the match
cursor, digest cursors) and story links count in seqs. Every write is
idempotent (ON CONFLICT DO NOTHING on the primary keys), so a copy that
stopped half-way is simply run again. Call them inside `store.transaction()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson

from bot.models import Item
from bot.store.ports import StoreReadOnlyError
from bot.store.postgres.items import INSERT_ITEM, item_row, lock_seq
from bot.store.postgres.records import PgRecords
from bot.store.postgres.store import PgTransaction
from bot.store.records.codec import doc_to_item, item_to_doc, key_digest, to_json

__all__ = ["import_items", "import_records", "import_tombstones", "raise_seq"]


def import_items(tx: PgTransaction, items: Iterable[Item]) -> int:
    """Store stored items under their own seqs (and their dedup keys); how many were new."""
    rows: list[tuple[Any, ...]] = []
    keys: list[tuple[bytes, int]] = []
    for item in items:
        doc = item_to_doc(item)
        clean = doc_to_item(doc)
        rows.append(item_row(clean, doc))
        keys.extend((key_digest(key), clean.seq) for key in doc["dedup_keys"])
    if not rows:
        return 0
    lock_seq(tx.db)
    before = _count(tx, "items")
    tx.db.run_many(INSERT_ITEM, rows)
    tx.db.run_many(
        "INSERT INTO item_keys (digest, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING", keys
    )
    raise_seq(tx, max(row[0] for row in rows))
    return _count(tx, "items") - before


def import_tombstones(
    tx: PgTransaction, tombstones: Iterable[tuple[int, datetime | None, list[str]]]
) -> int:
    """Remember pruned items' keys: (seq, first seen, dedup keys) each; how many were new."""
    stones = list(tombstones)
    if not stones:
        return 0
    lock_seq(tx.db)
    before = _count(tx, "tombstones")
    tx.db.run_many(
        "INSERT INTO tombstones (seq, first_seen, dedup_keys) VALUES (%s, %s, %s)"
        " ON CONFLICT (seq) DO NOTHING",
        [
            (seq, seen, orjson.dumps(to_json(keys, "tombstone keys")).decode())
            for seq, seen, keys in stones
        ],
    )
    tx.db.run_many(
        "INSERT INTO item_keys (digest, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [(key_digest(key), seq) for seq, _, keys in stones for key in keys],
    )
    raise_seq(tx, max(seq for seq, _, _ in stones))
    return _count(tx, "tombstones") - before


def import_records(tx: PgTransaction, table: str, values: Mapping[str, Any]) -> int:
    """Put every (key, value) of a record table; how many keys were new."""
    if not tx.db.writable:
        raise StoreReadOnlyError("writes go through store.transaction()")
    before = len(tx.db.rows("SELECT key FROM records WHERE tbl = %s", (table,)))
    records = PgRecords(tx.db, lock_keys=False)  # the service is stopped (records.py)
    for key, value in values.items():
        records.put(table, key, value)
    return len(tx.db.rows("SELECT key FROM records WHERE tbl = %s", (table,))) - before


def raise_seq(tx: PgTransaction, seq: int) -> None:
    """Make `seq` the highest given so far, if it is higher: new items get seqs above it."""
    tx.db.run("UPDATE seq_counter SET last = greatest(last, %s) WHERE id = 1", (seq,))
    tx.db.run("SELECT setval('item_seq', greatest(%s, (SELECT last_value FROM item_seq)))", (seq,))


def _count(tx: PgTransaction, table: str) -> int:
    query = {"items": "SELECT count(*) FROM items", "tombstones": "SELECT count(*) FROM tombstones"}
    return int(tx.db.rows(query[table])[0][0])


def _keys_json(keys: list[str]) -> str:
    return orjson.dumps(to_json(keys, "tombstone keys")).decode()
