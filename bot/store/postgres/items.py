"""The item repository on PostgreSQL: dedup by unique keys, seqs in commit order, reads by seq.

Committed reads go through the pool; a transaction's through its connection
(see db.py), where they see its own writes. Adding items: the keys already
known are looked up first (filtering before inserting was twice as fast as
letting every conflict happen, the design note measured), repeats inside the
call are dropped as TinyDB's backend drops them, then the items and their key
digests are inserted, the keys with ON CONFLICT DO NOTHING on the primary
key: the constraint is what keeps a key stored once. Seqs come from the
`item_seq` sequence while the transaction holds the `seq_counter` row, and
`seq_counter.last` moves to the highest: readers see seqs in commit order and
a rolled-back seq is never handed out again.

The seq lock. Every item write (`add` of at least one item, `update_extras`,
`prune`) first locks the `seq_counter` row (`lock_seq`), held to COMMIT: item
writers take turns, across replicas, so two never both find a key unknown
and store it twice, and seqs become visible in commit order. Transactions
that write no item (records only) do not take it (see records.py).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from bot.models import Item, as_utc, replace
from bot.store.ports import StoreError, StoreReadOnlyError
from bot.store.postgres.db import Db
from bot.store.postgres.searchdoc import search_doc
from bot.store.records.codec import (
    dedup_keys,
    doc_to_item,
    extra_marker,
    item_to_doc,
    key_digest,
    to_json,
)

__all__ = ["INSERT_ITEM", "PgItems", "item_row", "lock_seq"]

_PAGE = 500
INSERT_ITEM = (
    "INSERT INTO items (seq, feed_id, first_seen, item_when, story, tags, doc, folded, tsv)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::tsvector) ON CONFLICT (seq) DO NOTHING"
)


def item_row(item: Item, doc: Mapping[str, Any]) -> tuple[Any, ...]:
    """The items row of a stored item (`doc`: its `item_to_doc`)."""
    search = search_doc(item)
    return (
        item.seq,
        item.feed_id.replace("\x00", " "),
        item.first_seen,
        item.when,
        item.duplicate_of or item.seq,
        search.tags,
        orjson.dumps(doc).decode(),
        search.folded,
        search.tsvector,
    )


def lock_seq(db: Db) -> None:
    """Lock the `seq_counter` row to COMMIT: item writers take turns (module docstring)."""
    db.rows("SELECT last FROM seq_counter WHERE id = 1 FOR UPDATE")


def _decode(doc: str) -> Item:
    return doc_to_item(orjson.loads(doc))


class PgItems:
    def __init__(self, db: Db) -> None:
        self._db = db

    # -- reading -------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        rows = self._db.rows("SELECT last FROM seq_counter WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def count(self) -> int:
        return int(self._db.rows("SELECT count(*) FROM items")[0][0])

    def is_known(self, item: Item, *, former: bool = True) -> bool:
        keys = item.lookup_keys if former else item.dedup_keys
        return bool(self._known([key_digest(key) for key in keys]))

    def which_known(self, items: Sequence[Item], *, former: bool = True) -> list[bool]:
        """One statement for all of `items` (a round trip each was most of a poll's storing)."""
        digests = [
            [key_digest(key) for key in (item.lookup_keys if former else item.dedup_keys)]
            for item in items
        ]
        known = self._known([d for keys in digests for d in keys])
        return [any(d in known for d in keys) for keys in digests]

    def get(self, feed_id: str, item_id: str) -> Item | None:
        rows = self._db.rows(
            "SELECT i.doc FROM item_keys k JOIN items i ON i.seq = k.seq WHERE k.digest = %s",
            (key_digest(dedup_keys(feed_id, item_id)[0]),),
        )
        return _decode(rows[0][0]) if rows else None

    def by_seq(self, seqs: Iterable[int]) -> list[Item]:
        wanted = list(seqs)
        if not wanted:
            return []
        rows = self._db.rows("SELECT seq, doc FROM items WHERE seq = ANY(%s)", (wanted,))
        found = dict(rows)
        return [_decode(found[seq]) for seq in wanted if seq in found]

    def after(self, seq: int = 0, *, feed_ids: Collection[str] | None = None) -> Iterator[Item]:
        """In seq order, in pages; items committed after the call began are not included."""
        upper = self.last_seq
        wanted = None if feed_ids is None else sorted(feed_ids)
        last = seq
        while last < upper:
            if wanted is None:
                rows = self._db.rows(
                    "SELECT seq, doc FROM items WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
                    (last, upper, _PAGE),
                )
            else:
                rows = self._db.rows(
                    "SELECT seq, doc FROM items WHERE seq > %s AND seq <= %s"
                    " AND feed_id = ANY(%s) ORDER BY seq LIMIT %s",
                    (last, upper, wanted, _PAGE),
                )
            if not rows:
                return
            for _, doc in rows:
                yield _decode(doc)
            last = rows[-1][0]

    def newest_first(self, limit: int) -> Iterator[Item]:
        return map(_decode, self._newest_docs(limit))

    def _newest_docs(self, limit: int) -> Iterator[str]:
        below: int | None = None
        remaining = limit
        while remaining > 0:
            page = min(remaining, _PAGE)
            if below is None:
                rows = self._db.rows(
                    "SELECT seq, doc FROM items ORDER BY seq DESC LIMIT %s", (page,)
                )
            else:
                rows = self._db.rows(
                    "SELECT seq, doc FROM items WHERE seq < %s ORDER BY seq DESC LIMIT %s",
                    (below, page),
                )
            if not rows:
                return
            for _, doc in rows:
                yield doc
            remaining -= len(rows)
            below = rows[-1][0]

    def newest_with_extra(self, key: str, limit: int) -> Iterator[Item]:
        # Only a document naming the key (as a JSON object key) is decoded.
        marker = extra_marker(key).decode()
        for item_doc in self._newest_docs(limit):
            if marker in item_doc and key in (item := _decode(item_doc)).extras:
                yield item

    def first_seq_since(self, when: datetime) -> int | None:
        rows = self._db.rows(
            "SELECT min(seq) FROM items WHERE seq > coalesce(("
            " SELECT seq FROM items WHERE first_seen IS NULL OR first_seen < %s"
            " ORDER BY seq DESC LIMIT 1), 0)",
            (as_utc(when),),
        )
        return None if rows[0][0] is None else int(rows[0][0])

    # -- writing -------------------------------------------------------------------

    def add(self, items: Iterable[Item], *, now: datetime, backlog: bool = False) -> list[Item]:
        self._writable()
        now = as_utc(now)
        batch = list(items)
        if not batch:
            return []
        lock_seq(self._db)  # before the look-up: a concurrent writer's keys are seen
        digests = [[key_digest(k) for k in item.lookup_keys] for item in batch]
        known = self._known([d for keys in digests for d in keys])
        fresh: list[tuple[Item, list[bytes]]] = []
        seen: set[bytes] = set()
        moved: list[tuple[int, Item]] = []
        for item, keys in zip(batch, digests, strict=True):
            if any(k in seen for k in keys):
                continue
            seq = next((known[k] for k in keys if k in known), None)
            seen.update(keys)
            current = keys[: len(item.dedup_keys)]
            if seq is not None:
                if not any(k in known for k in current):
                    moved.append((seq, item))  # known by a former key only
                continue
            fresh.append((item, current))
        # Convert everything before writing any of it: a bad item stores nothing.
        prepared = []
        for item, keys in fresh:
            kept = replace(item, first_seen=now, backlog=backlog, seq=1)
            prepared.append((kept, item_to_doc(kept), keys))
        stored = self._insert(prepared)
        for seq, item in moved:
            self._add_keys(seq, item)
        return stored

    def _insert(self, prepared: list[tuple[Item, dict[str, Any], list[bytes]]]) -> list[Item]:
        if not prepared:
            return []
        seqs = [
            int(row[0])
            for row in self._db.rows(
                "SELECT nextval('item_seq') FROM generate_series(1, %s)", (len(prepared),)
            )
        ]
        rows, stored = [], []
        keys: list[tuple[bytes, int]] = []
        for seq, (_, doc, digests) in zip(sorted(seqs), prepared, strict=True):
            doc = {**doc, "seq": seq}
            item = doc_to_item(doc)  # the cleaned values: what a read returns
            rows.append(item_row(item, doc))
            keys.extend((digest, seq) for digest in digests)
            # The caller gets its own copy of the cleaned extras, as a read would return them.
            stored.append(replace(item, extras=copy.deepcopy(doc["extras"])))
        self._db.run_many(INSERT_ITEM, rows)
        self._db.run_many(
            "INSERT INTO item_keys (digest, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING", keys
        )
        self._db.run("UPDATE seq_counter SET last = greatest(last, %s) WHERE id = 1", (max(seqs),))
        return stored

    def update_extras(self, feed_id: str, item_id: str, extras: Mapping[str, Any]) -> None:
        self._writable()
        lock_seq(self._db)
        found = self.get(feed_id, item_id)
        if found is None:
            raise StoreError(f"no stored item {item_id!r} in feed {feed_id!r}")
        cleaned = to_json(extras, f"extras for item {item_id!r} of feed {feed_id!r}")
        doc = item_to_doc(found)
        doc["extras"] = {**doc["extras"], **cleaned}
        merged = doc_to_item(doc)
        self._db.run(
            "UPDATE items SET doc = %s, story = %s WHERE seq = %s",
            (orjson.dumps(doc).decode(), merged.duplicate_of or merged.seq, found.seq),
        )

    # -- helpers -------------------------------------------------------------------

    def _known(self, digests: list[bytes]) -> dict[bytes, int]:
        if not digests:
            return {}
        rows = self._db.rows("SELECT digest, seq FROM item_keys WHERE digest = ANY(%s)", (digests,))
        return {bytes(digest): int(seq) for digest, seq in rows}

    def _add_keys(self, seq: int, item: Item) -> None:
        """Give stored item `seq`, which `item` matched by a former key, `item`'s dedup keys.

        A pruned item (only its tombstone left) is not changed.
        """
        rows = self._db.rows("SELECT doc FROM items WHERE seq = %s", (seq,))
        if not rows:
            return
        doc = orjson.loads(rows[0][0])
        where = f"keys of item {item.id!r} of feed {item.feed_id!r}"
        added = [k for k in to_json(list(item.dedup_keys), where) if k not in doc["dedup_keys"]]
        doc["dedup_keys"] = [*doc["dedup_keys"], *added]
        self._db.run("UPDATE items SET doc = %s WHERE seq = %s", (orjson.dumps(doc).decode(), seq))
        self._db.run_many(
            "INSERT INTO item_keys (digest, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(key_digest(k), seq) for k in added],
        )

    def _writable(self) -> None:
        if not self._db.writable:
            raise StoreReadOnlyError("writes go through store.transaction()")
