"""The TinyDB backend's committed state: files loaded into memory, commits, retention.

The data directory (BRIEFBOT_DATA; created mode 0700, every file in it 0600):

    items-2026-11.json        items first seen in November 2026, at most
    items-2026-11-p2.json     SHARD_MAX_ITEMS per file (then -p2, -p3, ...)
    items-2026-11.keys        each shard's document places and key digests (keyfile.py: a cache)
    seen-2026-05.json         tombstones: dedup keys of pruned items, by month first seen
    state.json                feed states, record tables and the seq high-water mark
    LOCK, owner.json          the one process that writes; owner.json names it

Item documents stay on disk: for each item the store holds where its line is
in its shard file (`shardfile.StoredDocs`) and reads it when asked (`blob`,
`blobs`, batched by shard; `locator.ShardMap` finds the shard); the dedup
index maps 16-byte digests of the dedup keys to seqs in sorted arrays
(`keyindex`): about 32 bytes an item plus 24 a key in all. A commit builds
the touched shards in memory, writes them and then reads from the new files
(`EncodedShard.settle`). Of tombstone files only the keys are held; `prune`
reads their documents.

A commit (`commit`) never changes a file or an in-memory version in place. It
builds the next version of each touched shard and of state.json, writes them
(atomic replace, `files.write_files`), and only then swaps them in under
`lock`, held for microseconds: readers never wait for a disk.

Why the order of writes is safe: item shards are written first, state.json
last. A crash between the two leaves new items on disk without the feed state
(ETag, Last-Modified), alerts and cursors that came with them; the next poll
refetches the feed and the dedup index drops what is already stored, and the
match cursor, still behind the items, matches them. The reverse order could
save an ETag whose items were lost: the server would answer 304 and the items
would never come back. A commit that fails at the same point behaves the same:
the items it wrote are kept (in memory and on disk), the rest is dropped.

`seq` is never stored as a counter. At open, the next seq is one past the
highest of every stored item, every tombstone and the high-water mark in
state.json (which only raises it; it matters once every tombstone expired).
Seqs handed to a transaction that did not commit are not reused by this process.

Pruning deletes data, so its order is the reverse: tombstones and the
high-water mark are made durable first, the pruned items are removed after. A
crash in between leaves an item both stored and tombstoned, which is harmless
and finished by the next prune.
"""

from __future__ import annotations

import contextlib
import gc
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.models import UTC, as_utc
from bot.store.ports import StoreError, StoreStats
from bot.store.records.codec import iso, key_digest, parse_time
from bot.store.tinydb.files import remove_stale_temp_files, unlink_files, write_files
from bot.store.tinydb.keyfile import remove_orphan_keyfiles
from bot.store.tinydb.keyindex import KeyIndex, KeyIndexBuilder
from bot.store.tinydb.locator import ShardMap
from bot.store.tinydb.shards import EncodedShard, encode
from bot.store.tinydb.statefile import StateFile

__all__ = ["SHARD_MAX_ITEMS", "Changes", "Engine", "ItemChanges"]

#: Items per shard file: bounds what one commit rewrites (~1-2 MB per file).
SHARD_MAX_ITEMS = 2000

STATE_FILE = "state.json"
_ITEM_SHARD_RE = re.compile(r"^items-(\d{4}-\d{2})(?:-p(\d+))?\.json$")
_SEEN_SHARD_RE = re.compile(r"^seen-(\d{4}-\d{2})\.json$")


@dataclass
class ItemChanges:
    """Items a transaction added or changed, not yet committed."""

    next_seq: int
    new: dict[int, tuple[bytes, str]] = field(default_factory=dict)  # seq -> (doc, month)
    keys: dict[bytes, int] = field(default_factory=dict)  # key digest -> seq of a new item
    replaced: dict[int, bytes] = field(default_factory=dict)  # committed seq -> new doc


@dataclass
class Changes:
    """Everything one transaction staged."""

    items: ItemChanges
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # table -> key -> value


class Engine:
    """Committed state in memory; `commit` and `prune` are called under the store's writer lock."""

    def __init__(self, directory: Path, *, retention_days: int, seen_retention_days: int) -> None:
        self.dir = directory
        self._retention = timedelta(days=retention_days)
        self._seen_retention = timedelta(days=seen_retention_days)
        self.lock = threading.RLock()  # held only to swap in a commit or read an index
        self.state = StateFile.create(directory / STATE_FILE)
        self._items = ShardMap()  # item shards by file name, which holds which seq
        self._seen: dict[str, Path] = {}  # tombstone file name -> path
        self._parts: dict[str, int] = {}  # month -> highest shard part number
        self._keys = KeyIndex()  # digest of a dedup key -> seq (stored or tombstoned)
        self._tombstones: dict[int, str] = {}  # seq of a pruned item -> seen file name
        self.next_seq = 1  # the next seq to hand out
        self._last_seq = 0  # the highest seq committed or remembered
        #: Test hook: called by commit() after item shards are durable and
        #: before state.json is written, so a crash test can stop right there.
        self.after_shard_flush: Callable[[], None] | None = None

    # ------------------------------------------------------------------ loading

    def load(self, *, write: bool) -> None:
        """Read the directory. `write`: also clean up after a crash and rewrite old layouts.

        A reader (`write=False`) changes nothing on disk; a file that vanishes
        while it reads (a prune of the writing process) raises FileNotFoundError
        for the caller to start over.
        """
        # Loading builds a few hundred thousand objects; the cyclic GC would
        # rescan the growing heap over and over (about a fifth of a cold start
        # at 100,000 items). Nothing here makes cycles.
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_files(write=write)
        finally:
            if gc_enabled:
                gc.enable()

    def _load_files(self, *, write: bool) -> None:
        directory = self.dir
        if write:
            remove_stale_temp_files(directory)
            remove_orphan_keyfiles(directory)
        # state.json before the shards: the writer writes it after them, so
        # everything it points to (cursors) is in shards at least as new.
        state_path = directory / STATE_FILE
        if state_path.exists():
            self.state = StateFile.load(state_path)
        high_water = self.state.high_water
        if not isinstance(high_water, int) or isinstance(high_water, bool):
            raise StoreError(f"{state_path}: seq_high_water is {high_water!r}, not an integer")
        highest = high_water
        shards: dict[str, EncodedShard] = {}
        keys = KeyIndexBuilder()
        paths = sorted(directory.glob("*.json"))
        rewrite: list[EncodedShard | StateFile] = [self.state] if self.state.dirty else []
        for path in paths:
            if _ITEM_SHARD_RE.match(path.name):
                loaded = self._load_item_shard(path, shards, keys, rewrite, write=write)
                highest = max(highest, loaded)
        # Tombstones after items: a stored item's own entry wins (the two are
        # equal anyway when a crash mid-prune left an item in both).
        for path in paths:
            if _SEEN_SHARD_RE.match(path.name):
                highest = max(highest, self._load_seen_shard(path, keys, rewrite))
        if write and rewrite:
            # Another layout (TinyDB's, an older briefbot's): in the current one now.
            write_files(rewrite, directory)
            for written in rewrite:
                if isinstance(written, EncodedShard) and written.kind == "items":
                    written.settle()
        self._items.load(shards)
        self._keys = keys.build()
        self._parts = _highest_parts(shards)
        self._last_seq = highest
        self.next_seq = highest + 1

    def _load_item_shard(
        self,
        path: Path,
        shards: dict[str, EncodedShard],
        keys: KeyIndexBuilder,
        rewrite: list[EncodedShard | StateFile],
        *,
        write: bool,
    ) -> int:
        # Its keys from its key file when that still describes it (keyfile.py).
        shard, batch = EncodedShard.load_items(path, save_keys=write)
        shards[path.name] = shard
        if shard.dirty:
            rewrite.append(shard)
        keys.stored_batch(batch)
        seqs = shard.seq_range()
        return seqs[1] if seqs is not None else 0

    def _load_seen_shard(
        self, path: Path, keys: KeyIndexBuilder, rewrite: list[EncodedShard | StateFile]
    ) -> int:
        seen, index = EncodedShard.load(path, "seen", keep_docs=False)
        if seen.dirty:
            rewrite.append(seen)  # its documents were kept for that
        self._seen[path.name] = path
        for seq, dedup in index:
            self._tombstones[seq] = path.name
            for key in dedup:
                keys.tombstoned(key_digest(key), seq)
        return max((seq for seq, _ in index), default=0)

    # ------------------------------------------------------------------ committed reads

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def count(self) -> int:
        return self._items.count()

    def knows(self, digest: bytes) -> bool:
        return self._keys.get(digest) is not None

    def seq_of(self, digest: bytes) -> int | None:
        return self._keys.get(digest)

    def blob(self, seq: int) -> bytes | None:
        with self.lock:
            name = self._items.holder(seq)
            shard = None if name is None else self._items.shards[name]
        # Read outside the lock: the version taken keeps its own file open.
        return None if shard is None else shard.get(seq)

    def blobs(self, seqs: Iterable[int]) -> dict[int, bytes]:
        """The stored documents of `seqs` (those still stored), read shard by shard."""
        wanted: dict[str, list[int]] = {}
        with self.lock:
            holder, shards = self._items.holder, self._items.shards
            for seq in seqs:
                name = holder(seq)
                if name is not None:
                    wanted.setdefault(name, []).append(seq)
            versions = [(shards[name], found) for name, found in wanted.items()]
        docs: dict[int, bytes] = {}
        for shard, found in versions:
            docs.update(shard.get_many(found))
        return docs

    def where(self, seq: int) -> Path:
        """The file holding `seq` (for error messages)."""
        with self.lock:
            name = self._items.holder(seq)
        return self.dir / name if name else self.dir

    def seqs_after(self, seq: int) -> list[int]:
        with self.lock:
            return self._items.after(seq)

    def newest_seqs(self, limit: int) -> list[int]:
        with self.lock:
            return self._items.newest(limit)

    def tombstones(self) -> Iterator[tuple[int, datetime | None, list[str]]]:
        """Every tombstone: (seq, first seen, dedup keys), read from its file (for copying)."""
        for name in sorted(self._seen):
            for seq, doc in self._read_seen(name).iter_docs():
                yield seq, parse_time(doc.get("first_seen")), list(doc.get("dedup_keys") or ())

    def stats(self) -> StoreStats:
        with self.lock:
            paths = [
                self.state.path,
                *(shard.path for shard in self._items.shards.values()),
                *self._seen.values(),
            ]
            items, tombstones, last = self._items.count(), len(self._tombstones), self._last_seq
        size = files = 0
        for path in paths:
            with contextlib.suppress(OSError):
                size += path.stat().st_size
                files += 1
        return StoreStats(
            items=items, tombstones=tombstones, last_seq=last, bytes=size, files=files
        )

    # ------------------------------------------------------------------ commits

    def commit(self, changes: Changes) -> None:
        """Write a transaction's changes and swap them in (see the module docstring)."""
        items = changes.items
        shards, placed, parts = self._next_shards(items)
        highest = max(items.new, default=0)
        new_state = None
        if changes.state or highest > self.state.high_water:
            new_state = self.state.changed(changes.state, high_water=highest or None)
        write_files(shards.values(), self.dir)
        for shard in shards.values():
            shard.settle()
        self._swap_items(shards, placed, parts, items.keys, highest)
        if self.after_shard_flush is not None:
            self.after_shard_flush()
        if new_state is not None:
            write_files([new_state], self.dir)
            self.state = new_state
        # Outside the lock: new arrays are built, then swapped in (keyindex.py).
        self._keys.fold()

    def _next_shards(
        self, items: ItemChanges
    ) -> tuple[dict[str, EncodedShard], dict[int, str], dict[str, int]]:
        """The new versions of the shards a commit touches, where each new item goes, parts."""
        shards: dict[str, EncodedShard] = {}
        parts = dict(self._parts)

        def writable(name: str) -> EncodedShard:
            if name not in shards:
                base = self._items.shards.get(name)
                shards[name] = (
                    base.changed() if base else EncodedShard.create(self.dir / name, "items")
                )
            return shards[name]

        placed: dict[int, str] = {}
        for seq in sorted(items.new):
            blob, month = items.new[seq]
            while True:
                part = parts.get(month, 1)
                name = _item_shard_name(month, part)
                shard = writable(name)
                if shard.count() < SHARD_MAX_ITEMS:
                    break
                parts[month] = part + 1
            parts[month] = part
            shard.put(seq, blob)
            placed[seq] = name
        for seq, blob in items.replaced.items():
            holder = self._items.holder(seq)
            if holder is not None:
                writable(holder).put(seq, blob)
        return shards, placed, parts

    def _swap_items(
        self,
        shards: dict[str, EncodedShard],
        placed: dict[int, str],
        parts: dict[str, int],
        keys: dict[bytes, int],
        highest: int,
    ) -> None:
        with self.lock:
            self._items.committed(shards, placed)  # all above every committed seq
            self._keys.update(keys)  # the new keys
            self._parts = parts
            self._last_seq = max(self._last_seq, highest)

    # ------------------------------------------------------------------ retention

    def prune(self, now: datetime) -> int:
        """Remove items first seen before the retention window; return how many.

        Their dedup keys stay as tombstones until the seen-retention window
        passes; expired tombstones go too, and so do emptied files.
        """
        now = as_utc(now)
        cutoff = now - self._retention
        seen_cutoff = now - self._seen_retention
        doomed = self._doomed(cutoff)
        self._write_tombstones(doomed, now, seen_cutoff)
        return self._remove_items(doomed)

    def _doomed(self, cutoff: datetime) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        doomed: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for name, shard in list(self._items.shards.items()):
            for seq, doc in shard.iter_docs():
                first_seen = parse_time(doc.get("first_seen"))
                if first_seen is None or first_seen < cutoff:
                    doomed.setdefault(name, []).append((seq, doc))
        return doomed

    def _write_tombstones(
        self,
        doomed: dict[str, list[tuple[int, dict[str, Any]]]],
        now: datetime,
        seen_cutoff: datetime,
    ) -> None:
        """Phase 1: tombstones for the doomed items, expired ones removed, all durable.

        The files change on disk first; the indexes follow only once that
        succeeded, so a failed write leaves them as the disk is.
        """
        added: dict[str, list[tuple[int, bytes]]] = {}
        for docs in doomed.values():
            for seq, doc in docs:
                first_seen = parse_time(doc.get("first_seen")) or now
                if seq in self._tombstones or first_seen < seen_cutoff:
                    continue
                tombstone = {
                    "seq": seq,
                    "dedup_keys": list(doc["dedup_keys"]),
                    "feed_id": doc["feed_id"],
                    "id": doc["id"],
                    "first_seen": iso(first_seen),
                }
                name = f"seen-{first_seen:%Y-%m}.json"
                added.setdefault(name, []).append((seq, encode(tombstone)))
        touched, expired = self._expire_tombstones(seen_cutoff)
        for name, tombstones in added.items():
            base = touched.get(name) or self._read_seen(name)
            touched[name] = base.changed(add=tombstones)
        if self._last_seq > self.state.high_water:
            new_state = self.state.changed({}, high_water=self._last_seq)
            write_files([new_state], self.dir)
            self.state = new_state
        emptied = [name for name, f in touched.items() if f.count() == 0]
        write_files([f for name, f in touched.items() if name not in emptied], self.dir)
        unlink_files((touched[name].path for name in emptied), self.dir)
        with self.lock:
            self._index_tombstones(added, expired, emptied)

    def _index_tombstones(
        self,
        added: dict[str, list[tuple[int, bytes]]],
        expired: list[tuple[int, list[str]]],
        emptied: list[str],
    ) -> None:
        for name, tombstones in added.items():
            self._seen[name] = self.dir / name
            for seq, _ in tombstones:
                self._tombstones[seq] = name
        for seq, keys in expired:
            self._tombstones.pop(seq, None)
            if self._items.holder(seq) is None:
                self._forget_keys(keys, seq)
        for name in emptied:
            self._seen.pop(name, None)

    def _read_seen(self, name: str) -> EncodedShard:
        path = self.dir / name
        if name in self._seen and path.exists():
            return EncodedShard.load(path, "seen")[0]
        return EncodedShard.create(path, "seen")

    def _expire_tombstones(
        self, seen_cutoff: datetime
    ) -> tuple[dict[str, EncodedShard], list[tuple[int, list[str]]]]:
        """New versions of the tombstone files with expired tombstones dropped, and their keys."""
        touched: dict[str, EncodedShard] = {}
        expired: list[tuple[int, list[str]]] = []
        for name in list(self._seen):
            match = _SEEN_SHARD_RE.match(name)
            if match is not None:
                year, month = (int(part) for part in match.group(1).split("-"))
                if datetime(year, month, 1, tzinfo=UTC) >= seen_cutoff:
                    continue  # first seen on or after the cutoff: nothing in it expires
            seen = self._read_seen(name)
            gone = []
            for seq, doc in seen.iter_docs():
                first_seen = parse_time(doc.get("first_seen"))
                if first_seen is None or first_seen < seen_cutoff:
                    gone.append(seq)
                    expired.append((seq, list(doc.get("dedup_keys") or ())))
            touched[name] = seen.changed(remove=gone)
        return touched, expired

    def _remove_items(self, doomed: dict[str, list[tuple[int, dict[str, Any]]]]) -> int:
        """Phase 2, deletions: the doomed items leave their shards (emptied shards go)."""
        shards = {
            name: self._items.shards[name].changed(remove=[seq for seq, _ in docs])
            for name, docs in doomed.items()
        }
        emptied = [name for name, shard in shards.items() if shard.count() == 0]
        kept = [s for name, s in shards.items() if name not in emptied]
        write_files(kept, self.dir)
        for shard in kept:
            shard.settle()
        unlink_files((shards[name].path for name in emptied), self.dir)
        pruned = sum(len(docs) for docs in doomed.values())
        with self.lock:
            self._items.pruned(shards, emptied)
            for docs in doomed.values():
                for seq, doc in docs:
                    if seq not in self._tombstones:
                        self._forget_keys(doc["dedup_keys"], seq)
            self._parts = _highest_parts(self._items.shards)
        return pruned

    def _forget_keys(self, keys: Iterable[str], seq: int) -> None:
        for key in keys:
            digest = key_digest(key)
            self._keys.discard(digest, seq)


def _item_shard_name(month: str, part: int) -> str:
    return f"items-{month}.json" if part == 1 else f"items-{month}-p{part}.json"


def _highest_parts(shards: dict[str, EncodedShard]) -> dict[str, int]:
    parts: dict[str, int] = {}
    for name in shards:
        match = _ITEM_SHARD_RE.match(name)
        if match:
            month, part = match.group(1), int(match.group(2) or 1)
            parts[month] = max(parts.get(month, 1), part)
    return parts
