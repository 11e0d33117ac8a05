"""The committed item shards, and which one holds a seq, without an entry per item.

Mapping every stored seq to its shard's name took a dict entry and an int
object per item (about 80 bytes). Shards hold runs of seqs instead: a commit
appends new items to the current month's last part, above every stored seq.
So each shard's first and last seq, sorted, find the holder with one bisect,
and the holder's own sorted seqs confirm it. Ranges can overlap (a file
written in another layout, a clock set back across a month): then the shards
whose range covers the seq are asked in turn. The stored seqs themselves are
one sorted array (8 bytes an item) for the ordered reads.

Changed only under the engine's lock (`Engine.lock`), like the rest of the
committed state.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping

from bot.store.tinydb.shards import EncodedShard

__all__ = ["ShardMap"]


class ShardMap:
    """Item shards by file name, the seqs they hold (sorted) and each shard's seq range."""

    def __init__(self) -> None:
        self.shards: dict[str, EncodedShard] = {}
        self.seqs = array("q")  # every stored seq, ascending
        self._firsts: list[int] = []  # first seq of each range, ascending
        self._ranges: list[tuple[int, int, str]] = []  # (first, last, name), by first
        self._overlap = False

    def load(self, shards: Mapping[str, EncodedShard]) -> None:
        """The shards read at open (a seq found in two is counted once)."""
        self.shards = dict(shards)
        found: set[int] = set()
        for shard in self.shards.values():
            found.update(shard.seqs())
        self.seqs = array("q", sorted(found))
        self._index()

    def count(self) -> int:
        return len(self.seqs)

    def holder(self, seq: int) -> str | None:
        """The name of the shard holding `seq`, or None."""
        at = bisect_right(self._firsts, seq) - 1
        if at >= 0:
            _, last, name = self._ranges[at]
            if seq <= last and self.shards[name].has(seq):
                return name
        if not self._overlap:
            return None
        for first, last, name in self._ranges:
            if first <= seq <= last and self.shards[name].has(seq):
                return name
        return None

    def after(self, seq: int) -> list[int]:
        return self.seqs[bisect_right(self.seqs, seq) :].tolist()

    def newest(self, limit: int) -> list[int]:
        return self.seqs[: -limit - 1 : -1].tolist() if limit > 0 else []

    def committed(self, shards: Mapping[str, EncodedShard], added: Iterable[int]) -> None:
        """New versions of `shards` swapped in; `added`, new seqs above every stored one."""
        self.shards.update(shards)
        self.seqs.extend(sorted(added))
        self._index()

    def pruned(self, shards: Mapping[str, EncodedShard], emptied: Iterable[str]) -> None:
        """New versions of `shards` with items removed; the `emptied` ones gone."""
        self.shards.update(shards)
        for name in emptied:
            self.shards.pop(name, None)
        self.load(self.shards)

    def _index(self) -> None:
        ranges = []
        for name, shard in self.shards.items():
            span = shard.seq_range()
            if span is not None:
                ranges.append((span[0], span[1], name))
        ranges.sort()
        self._ranges = ranges
        self._firsts = [first for first, _, _ in ranges]
        overlap, highest = False, 0
        for first, last, _ in ranges:
            overlap = overlap or first <= highest
            highest = max(highest, last)
        self._overlap = overlap
