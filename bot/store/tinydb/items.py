"""The item repository: committed items, plus a transaction's own when it has some.

Without `staged` the repository reads what is committed (the store's
`items`); with it, it also sees the transaction's new and changed items and
can add more (`tx.items`). Documents are read (from the shard files, see
shardfile.py) and decoded outside any lock: the encoded bytes never change
once made. Reads of many items go shard by shard (`_blobs`).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from bot.models import Item, as_utc, replace
from bot.store.ports import StoreError, StoreReadOnlyError
from bot.store.records.codec import (
    dedup_keys,
    doc_to_item,
    extra_marker,
    item_to_doc,
    key_digest,
    month_of,
    parse_time,
)
from bot.store.records.codec import to_json as json_value
from bot.store.tinydb.engine import Engine, ItemChanges
from bot.store.tinydb.shards import decode_doc, encode

__all__ = ["ItemRepo"]

# Items read at once by `after`: about a shard (engine.SHARD_MAX_ITEMS).
_READ_BATCH = 2000


class ItemRepo:
    def __init__(self, engine: Engine, staged: ItemChanges | None = None) -> None:
        self._engine = engine
        self._staged = staged

    # -- reading -------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        staged = max(self._staged.new, default=0) if self._staged is not None else 0
        return max(self._engine.last_seq, staged)

    def count(self) -> int:
        return self._engine.count() + (len(self._staged.new) if self._staged else 0)

    def is_known(self, item: Item, *, former: bool = True) -> bool:
        keys = item.lookup_keys if former else item.dedup_keys
        return any(self._seq_of(key_digest(key)) is not None for key in keys)

    def which_known(self, items: Sequence[Item], *, former: bool = True) -> list[bool]:
        return [self.is_known(item, former=former) for item in items]

    def get(self, feed_id: str, item_id: str) -> Item | None:
        seq = self._seq_of(key_digest(dedup_keys(feed_id, item_id)[0]))
        if seq is None:
            return None
        found = self.by_seq([seq])
        return found[0] if found else None

    def by_seq(self, seqs: Iterable[int]) -> list[Item]:
        wanted = list(seqs)
        blobs = self._blobs(wanted)
        return [self._decode(seq, blob) for seq in wanted if (blob := blobs.get(seq)) is not None]

    def after(self, seq: int = 0, *, feed_ids: Collection[str] | None = None) -> Iterator[Item]:
        """In seq order; an item pruned meanwhile is skipped, one added meanwhile not included."""
        seqs = self._engine.seqs_after(seq)
        if self._staged is not None:
            seqs += sorted(s for s in self._staged.new if s > seq)
        wanted = None if feed_ids is None else set(feed_ids)
        # A shard's worth at a time: one read of each file, not one per item.
        for start in range(0, len(seqs), _READ_BATCH):
            chunk = seqs[start : start + _READ_BATCH]
            blobs = self._blobs(chunk)
            for current in chunk:
                blob = blobs.get(current)
                if blob is None:
                    continue
                doc = self._doc(current, blob)
                if wanted is not None and doc["feed_id"] not in wanted:
                    continue
                yield doc_to_item(doc)

    def newest_first(self, limit: int) -> Iterator[Item]:
        seqs: list[int] = []
        if self._staged is not None:
            seqs = sorted(self._staged.new, reverse=True)[:limit]
        seqs += self._engine.newest_seqs(limit - len(seqs))
        for start in range(0, len(seqs), 500):
            yield from self.by_seq(seqs[start : start + 500])

    def newest_with_extra(self, key: str, limit: int) -> Iterator[Item]:
        # Only a document naming the key (as a JSON object key) is decoded.
        marker = extra_marker(key)
        seqs: list[int] = []
        if self._staged is not None:
            seqs = sorted(self._staged.new, reverse=True)[:limit]
        seqs += self._engine.newest_seqs(limit - len(seqs))
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            blobs = self._blobs(chunk)
            for seq in chunk:
                blob = blobs.get(seq)
                if blob is not None and marker in blob:
                    item = self._decode(seq, blob)
                    if key in item.extras:
                        yield item

    def first_seq_since(self, when: datetime) -> int | None:
        """By bisection over the seqs, newest first: about 17 items decoded at 100,000.

        Not obvious: seqs are given in the order items are first seen (each
        added item gets `now`), so "first seen before `when`" holds for every
        seq below some point and for none above it; a clock stepped back
        between two polls could make the walk this replaced stop elsewhere.
        """
        when = as_utc(when)
        seqs: list[int] = []
        if self._staged is not None:
            seqs = sorted(self._staged.new, reverse=True)
        seqs += self._engine.newest_seqs(self._engine.count())
        low, high = 0, len(seqs)  # seqs[:low] are seen since `when`, seqs[high:] before it
        while low < high:
            middle = (low + high) // 2
            if self._seen_before(seqs[middle], when):
                high = middle
            else:
                low = middle + 1
        return seqs[low - 1] if low else None

    def _seen_before(self, seq: int, when: datetime) -> bool:
        blob = self._blobs([seq]).get(seq)
        if blob is None:  # pruned meanwhile: as old as it gets
            return True
        first_seen = parse_time(self._doc(seq, blob).get("first_seen"))
        return first_seen is None or first_seen < when

    # -- writing -------------------------------------------------------------------

    def add(self, items: Iterable[Item], *, now: datetime, backlog: bool = False) -> list[Item]:
        staged = self._writable()
        now = as_utc(now)
        fresh: list[tuple[Item, list[bytes]]] = []
        batch: set[bytes] = set()
        moved: list[tuple[int, Item]] = []
        for item in items:
            keys = [key_digest(k) for k in item.lookup_keys]
            if any(k in batch for k in keys):
                continue
            seq = next((s for k in keys if (s := self._seq_of(k)) is not None), None)
            batch.update(keys)
            if seq is not None:
                if not any(self._seq_of(k) is not None for k in keys[: len(item.dedup_keys)]):
                    moved.append((seq, item))  # known by a former key only
                continue
            fresh.append((item, keys[: len(item.dedup_keys)]))
        # Convert everything before staging any of it: a bad item stores nothing.
        prepared = []
        for offset, (item, keys) in enumerate(fresh):
            kept = replace(item, seq=staged.next_seq + offset, first_seen=now, backlog=backlog)
            prepared.append((kept, item_to_doc(kept), keys))
        month = month_of(now)
        stored: list[Item] = []
        for kept, doc, keys in prepared:
            staged.new[kept.seq] = (encode(doc), month)
            staged.keys.update(dict.fromkeys(keys, kept.seq))
            # The caller gets its own copy of the cleaned extras (tuples now
            # lists), as a later read would return them.
            stored.append(replace(kept, extras=copy.deepcopy(doc["extras"])))
        staged.next_seq += len(prepared)
        for seq, item in moved:
            self._add_keys(staged, seq, item)
        return stored

    def update_extras(self, feed_id: str, item_id: str, extras: Mapping[str, Any]) -> None:
        staged = self._writable()
        seq = self._seq_of(key_digest(dedup_keys(feed_id, item_id)[0]))
        blob = None if seq is None else self._blob(seq)
        if seq is None or blob is None:
            raise StoreError(f"no stored item {item_id!r} in feed {feed_id!r}")
        cleaned = json_value(extras, f"extras for item {item_id!r} of feed {feed_id!r}")
        old = decode_doc(blob, self._engine.where(seq), seq)
        new = encode({**old, "extras": {**(old.get("extras") or {}), **cleaned}})
        if seq in staged.new:
            staged.new[seq] = (new, staged.new[seq][1])
        else:
            staged.replaced[seq] = new

    # -- helpers -------------------------------------------------------------------

    def _add_keys(self, staged: ItemChanges, seq: int, item: Item) -> None:
        """Give stored item `seq`, which `item` matched by a former key, `item`'s dedup keys.

        So an item stored by an earlier release moves to the current identity
        the first time it is seen again; after that, changes the current
        identity absorbs (a scheme flip, a new session id) keep it known. A
        pruned item (only its tombstone left) is not changed.
        """
        blob = self._blob(seq)
        if blob is None:
            return
        doc = decode_doc(blob, self._engine.where(seq), seq)
        where = f"keys of item {item.id!r} of feed {item.feed_id!r}"
        added = [k for k in json_value(list(item.dedup_keys), where) if k not in doc["dedup_keys"]]
        new = encode({**doc, "dedup_keys": [*doc["dedup_keys"], *added]})
        if seq in staged.new:
            staged.new[seq] = (new, staged.new[seq][1])
        else:
            staged.replaced[seq] = new
        staged.keys.update(dict.fromkeys((key_digest(k) for k in added), seq))

    def _writable(self) -> ItemChanges:
        if self._staged is None:
            raise StoreReadOnlyError("writes go through store.transaction()")
        return self._staged

    def _seq_of(self, digest: bytes) -> int | None:
        if self._staged is not None and digest in self._staged.keys:
            return self._staged.keys[digest]
        return self._engine.seq_of(digest)

    def _blob(self, seq: int) -> bytes | None:
        staged = self._staged
        if staged is not None:
            if seq in staged.replaced:
                return staged.replaced[seq]
            if seq in staged.new:
                return staged.new[seq][0]
        return self._engine.blob(seq)

    def _blobs(self, seqs: list[int]) -> dict[int, bytes]:
        """The documents of `seqs` (those that exist), committed ones read shard by shard."""
        staged = self._staged
        if staged is None:
            return self._engine.blobs(seqs)
        found: dict[int, bytes] = {}
        committed: list[int] = []
        for seq in seqs:
            if seq in staged.replaced:
                found[seq] = staged.replaced[seq]
            elif seq in staged.new:
                found[seq] = staged.new[seq][0]
            else:
                committed.append(seq)
        found.update(self._engine.blobs(committed))
        return found

    def _decode(self, seq: int, blob: bytes) -> Item:
        return doc_to_item(self._doc(seq, blob))

    def _doc(self, seq: int, blob: bytes) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = orjson.loads(blob)
        except orjson.JSONDecodeError:
            # Where the item is, only for the error (a Path per item is costly).
            return decode_doc(blob, self._engine.where(seq), seq)
        return doc
