"""The dedup index: the digest of each dedup key of a stored or tombstoned item -> its seq.

At 100,000 items the index holds about 200,000 keys. As a dict of 16-byte
digests (a bytes object, an int and a dict slot each, about 110 bytes a key)
it was two thirds of what the store held once the documents went to disk.
Here the keys read at open live in three sorted arrays, the digest's two
64-bit halves and the seq (24 bytes a key), searched by bisect (about a
microsecond); keys added since go to a small dict, folded into new arrays
when it outgrows an eighth of them (a commit pays for that, about every
10,000 new items at 100,000). Each digest lives in one place: a key set again
that is in the arrays has its seq replaced there, a key removed has its seq
set to 0 (no item has seq 0).

Readers look keys up without the engine's lock while the one writer changes
the index: an array slot is replaced atomically, and a fold builds new arrays
before swapping them in (`_base` first, then `_recent`), so a reader sees the
key in one or the other, never in neither.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store.tinydb.keyfile import KeyBatch

__all__ = ["KeyIndex", "KeyIndexBuilder"]

_LOW = (1 << 64) - 1
_POSITION = 32  # bits of load order under each digest while building
_MIN_FOLD = 4096


class _Sorted:
    """Digests (two 64-bit halves) and seqs in three arrays sorted by digest."""

    __slots__ = ("hi", "lo", "seqs")

    def __init__(self) -> None:
        self.hi = array("Q")
        self.lo = array("Q")
        self.seqs = array("q")

    def find(self, digest: bytes) -> int | None:
        value = int.from_bytes(digest, "big")
        high, low = value >> 64, value & _LOW
        hi = self.hi
        at = bisect_left(hi, high)
        end = len(hi)
        while at < end and hi[at] == high:
            if self.lo[at] == low:
                return at
            at += 1
        return None

    def items(self) -> Iterable[tuple[bytes, int]]:
        for high, low, seq in zip(self.hi, self.lo, self.seqs, strict=True):
            if seq:
                yield ((high << 64) | low).to_bytes(16, "big"), seq


class KeyIndex:
    """Digest of a dedup key -> seq (see the module docstring)."""

    def __init__(self, base: _Sorted | None = None) -> None:
        self._base = base if base is not None else _Sorted()
        self._recent: dict[bytes, int] = {}

    def get(self, digest: bytes) -> int | None:
        found = self._recent.get(digest)
        if found is not None:
            return found
        base = self._base
        at = base.find(digest)
        return (base.seqs[at] or None) if at is not None else None

    def __contains__(self, digest: bytes) -> bool:
        return self.get(digest) is not None

    def set(self, digest: bytes, seq: int) -> None:
        base = self._base
        at = base.find(digest)
        if at is not None:
            base.seqs[at] = seq
        else:
            self._recent[digest] = seq

    def update(self, keys: Mapping[bytes, int]) -> None:
        for digest, seq in keys.items():
            self.set(digest, seq)

    def discard(self, digest: bytes, seq: int) -> None:
        """Forget `digest` if it still points to `seq`."""
        if self._recent.get(digest) == seq:
            del self._recent[digest]
            return
        base = self._base
        at = base.find(digest)
        if at is not None and base.seqs[at] == seq:
            base.seqs[at] = 0

    def fold(self, *, force: bool = False) -> None:
        """Move the keys added since the arrays were built into new arrays, when they are many."""
        if not force and len(self._recent) < max(_MIN_FOLD, len(self._base.seqs) // 8):
            return
        builder = KeyIndexBuilder()
        for digest, seq in self._base.items():
            builder.stored(digest, seq)
        for digest, seq in list(self._recent.items()):
            builder.stored(digest, seq)
        self._base = builder.sorted()
        self._recent = {}


class KeyIndexBuilder:
    """The index as read at open: stored items' keys (the last wins), then tombstones' (if new).

    Each key is collected as one int (digest, then load order) and sorted once;
    no bytes object or dict slot per key outlives the build.
    """

    def __init__(self) -> None:
        self._entries: list[int] = []
        self._seqs = array("q")
        self._tombstones_from: int | None = None  # load order of the first tombstone key

    def stored(self, digest: bytes, seq: int) -> None:
        if self._tombstones_from is not None:
            raise RuntimeError("stored keys come before tombstones")
        self._add(digest, seq)

    def stored_batch(self, batch: KeyBatch) -> None:
        """A shard's keys at once (keyfile.py): as `stored` for each, without a call per key."""
        if self._tombstones_from is not None:
            raise RuntimeError("stored keys come before tombstones")
        digests, start = batch.digests, len(self._seqs)
        self._entries.extend(
            (int.from_bytes(digests[at : at + 16], "big") << _POSITION) | (start + n)
            for n, at in enumerate(range(0, len(digests), 16))
        )
        self._seqs.extend(batch.seqs)

    def tombstoned(self, digest: bytes, seq: int) -> None:
        if self._tombstones_from is None:
            self._tombstones_from = len(self._seqs)
        self._add(digest, seq)

    def _add(self, digest: bytes, seq: int) -> None:
        position = len(self._seqs)
        self._entries.append((int.from_bytes(digest, "big") << _POSITION) | position)
        self._seqs.append(seq)

    def build(self) -> KeyIndex:
        return KeyIndex(self.sorted())

    def sorted(self) -> _Sorted:
        entries, seqs = self._entries, self._seqs
        entries.sort()
        first_tombstone = len(seqs) if self._tombstones_from is None else self._tombstones_from
        mask = (1 << _POSITION) - 1
        result = _Sorted()
        hi_add, lo_add, seq_add = result.hi.append, result.lo.append, result.seqs.append
        count, at = len(entries), 0
        following = entries[0] >> _POSITION if count else 0
        while at < count:
            digest, end = following, at + 1
            while end < count:
                following = entries[end] >> _POSITION
                if following != digest:
                    break
                end += 1
            if end == at + 1:
                chosen = entries[at] & mask
            else:
                # Several entries of one digest, in load order: the last
                # stored item's seq wins; with no stored item, the first
                # tombstone's.
                positions = [entries[i] & mask for i in range(at, end)]
                stored = [p for p in positions if p < first_tombstone]
                chosen = stored[-1] if stored else positions[0]
            hi_add(digest >> 64)
            lo_add(digest & _LOW)
            seq_add(seqs[chosen])
            at = end
        self._entries, self._seqs = [], array("q")
        return result
