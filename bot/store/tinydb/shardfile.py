"""A shard file held open: its documents read on demand (pread) and checked against their CRC.

The store keeps no item document in memory (about 1.5 KB each: 150 MB at
100,000 items). For each line of a shard it keeps the seq, where the document
sits in the file and its CRC-32 (24 bytes, in arrays), and reads the bytes
when the document is wanted.

Why a file descriptor per shard version and not the path: the writer never
changes a file in place, it renames a new version over it (files.py). A
descriptor opened on the version whose lines were indexed keeps reading that
inode after a rename, and after an unlink by a prune, so the offsets are
always those of the bytes they were computed from: a reader holding an old
version of a shard reads the old version, whole. The descriptor is closed
when the last version object referring to it goes (`weakref.finalize`).

What is checked: each document read is compared with the CRC-32 recorded
when its file was opened (the whole-file check of `split_lines` covered the
same bytes), so a file changed in place under the store (an editor, a
truncation, a disk error) is reported as damage naming the file, never
decoded into another item. pread, not mmap: mapped pages that were read count
in the process's resident set; the page cache does not.
"""

from __future__ import annotations

import contextlib
import os
import weakref
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

from bot.store.ports import StoreError

__all__ = ["Layout", "ShardFile", "StoredDocs", "read_all"]

# A batch read takes one pread of the span from its first to its last
# document when the documents wanted fill at least this share of the span.
_SPAN_FILL = 0.25


def read_all(fd: int, size: int) -> bytes:
    """`size` bytes of `fd` from its start (a short read is a file cut under us)."""
    data = os.pread(fd, size, 0)
    if len(data) < size:
        chunks = [data]
        got = len(data)
        while got < size:
            more = os.pread(fd, size - got, got)
            if not more:
                break
            chunks.append(more)
            got += len(more)
        data = b"".join(chunks)
    return data


class ShardFile:
    """One version (inode) of a shard file, open to read while a shard version refers to it."""

    def __init__(self, path: Path, fd: int, size: int) -> None:
        self.path = path
        self.size = size
        self._fd = fd
        self._closer = weakref.finalize(self, _close_quietly, fd)

    @classmethod
    def open(cls, path: Path) -> tuple[ShardFile, bytes]:
        """The file and its whole content, read through the same descriptor (one inode)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            raw = read_all(fd, size)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, len(raw)), raw

    @classmethod
    def open_unread(cls, path: Path) -> tuple[ShardFile, os.stat_result]:
        """The file, open, and what fstat says of it; nothing read yet (`pread` reads)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            stat = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, stat.st_size), stat

    def read(self) -> bytes:
        """The whole file (a short read is a file cut under us)."""
        return read_all(self._fd, self.size)

    def stat(self) -> os.stat_result:
        return os.fstat(self._fd)

    @classmethod
    def open_sized(cls, path: Path, size: int) -> ShardFile | None:
        """The file just written at `path`, or None when it cannot be opened or has another size."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if os.fstat(fd).st_size == size:
                return cls(path, fd, size)
        except OSError:
            pass
        os.close(fd)
        return None

    def pread(self, offset: int, length: int) -> bytes:
        try:
            return os.pread(self._fd, length, offset)
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        self._closer()


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class Layout:
    """(seq, offset, length, CRC-32) of each document of a file: 24 bytes a document."""

    __slots__ = ("crcs", "lengths", "offsets", "seqs")

    def __init__(self) -> None:
        self.seqs = array("q")
        self.offsets = array("q")
        self.lengths = array("I")  # a document is far under 4 GB
        self.crcs = array("I")

    def add(self, seq: int, offset: int, length: int, crc: int) -> None:
        self.seqs.append(seq)
        self.offsets.append(offset)
        self.lengths.append(length)
        self.crcs.append(crc)

    def in_seq_order(self, shift: int = 0) -> Layout:
        """This layout sorted by seq (itself when it is and `shift` is 0), offsets + `shift`."""
        seqs = self.seqs
        ordered = all(seqs[i] < seqs[i + 1] for i in range(len(seqs) - 1))
        if ordered and not shift:
            return self
        order = range(len(seqs)) if ordered else sorted(range(len(seqs)), key=seqs.__getitem__)
        result = Layout()
        for i in order:
            result.add(seqs[i], self.offsets[i] + shift, self.lengths[i], self.crcs[i])
        return result


class StoredDocs:
    """Where each document of one shard version sits in its file (a `Layout` sorted by seq)."""

    def __init__(self, file: ShardFile, layout: Layout) -> None:
        self.file = file
        layout = layout.in_seq_order()
        self.seqs = layout.seqs
        self.offsets = layout.offsets
        self.lengths = layout.lengths
        self.crcs = layout.crcs

    def __len__(self) -> int:
        return len(self.seqs)

    def position(self, seq: int) -> int | None:
        at = bisect_left(self.seqs, seq)
        return at if at < len(self.seqs) and self.seqs[at] == seq else None

    def get(self, seq: int) -> bytes | None:
        at = self.position(seq)
        if at is None:
            return None
        return self._checked(at, self.file.pread(self.offsets[at], self.lengths[at]))

    def get_many(self, seqs: Iterable[int]) -> dict[int, bytes]:
        """The documents of `seqs` held here, by seq; one read when they are close together."""
        found = [at for seq in seqs if (at := self.position(seq)) is not None]
        if len(found) < 2:
            return {self.seqs[at]: self._read_one(at) for at in found}
        offsets, lengths = self.offsets, self.lengths
        start = min(offsets[at] for at in found)
        end = max(offsets[at] + lengths[at] for at in found)
        wanted = sum(lengths[at] for at in found)
        if wanted < _SPAN_FILL * (end - start):
            return {self.seqs[at]: self._read_one(at) for at in found}
        span = memoryview(self.file.pread(start, end - start))
        return {
            self.seqs[at]: self._checked(
                at, span[offsets[at] - start : offsets[at] - start + lengths[at]].tobytes()
            )
            for at in found
        }

    def all(self) -> dict[int, bytes]:
        """Every document, by seq, from one read of the file."""
        return self.get_many(self.seqs)

    def _read_one(self, at: int) -> bytes:
        return self._checked(at, self.file.pread(self.offsets[at], self.lengths[at]))

    def _checked(self, at: int, blob: bytes) -> bytes:
        if len(blob) != self.lengths[at] or zlib.crc32(blob) != self.crcs[at]:
            raise StoreError(
                f"{self.file.path} changed on disk while the store had it open "
                f"(item {self.seqs[at]} no longer matches what was read at open); "
                "restart briefbot, and if it is refused, restore the file from a backup"
            )
        return blob
