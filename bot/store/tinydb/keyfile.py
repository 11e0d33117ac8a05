"""A shard's index kept beside it (`items-2026-12.keys`): its documents' places and key digests.

Opening the store indexes every item's dedup keys. Reading them from each
shard's lines (a regular expression, a JSON list and a CRC-32 per line, a
BLAKE2b digest per key) was most of `TinyStore.open`: 60 ms at 7,000 items,
0.69 s at 100,000, and in a `briefbot poll` it came after the downloads had
ended (BENCHMARKS.md, issue 17, sixth session). The writer saves what that
reading gives when it writes a shard (`EncodedShard.settle`), or when it had
to read one without: where each document is (seq, offset, length, CRC-32:
the `Layout`) and each key's digest and seq. An open takes them from here
when this file still describes the shard beside it, else reads the shard's
lines as before.

Trusted only when all of these hold: the magic and version; the shard's
size and modification time (ns) as recorded, compared with the file
descriptor the shard is read through; the lines' CRC-32 as the shard's own
head (`_meta.lines`) states it; the CRC-32 of this file's payload. A crash
between a shard's write and this file's, an editor, or an older briefbot
change the shard's time (and as a rule its size and lines), and the shard is
read line by line. Not the inode: a copy that keeps the files' times (`cp -p`,
`rsync -a`, a backup's restore) keeps its key files, and a copy that does not
is read line by line once. This file is a cache: written without fsync (a
torn one fails its CRC), never needed, removed with its shard.

Layout, little-endian: an 8-byte magic, then six uint64 (shard size,
mtime_ns, documents, keys, lines CRC, payload CRC), then the payload:
seqs (int64), offsets (int64), lengths (uint32), CRCs (uint32) of the
documents in seq order, the keys' seqs (int64), their digests (16 bytes each).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.store.records.codec import key_digest
from bot.store.tinydb.shardfile import Layout

__all__ = [
    "SUFFIX",
    "KeyBatch",
    "batch_of",
    "keyfile_path",
    "read_keyfile",
    "remove_orphan_keyfiles",
    "write_keyfile",
]

SUFFIX: Final = ".keys"
_MAGIC: Final = b"BBKEYS1\n"
_HEADER: Final = struct.Struct("<8s6Q")
_DIGEST: Final = 16
_LITTLE: Final = sys.byteorder == "little"


@dataclass(frozen=True, slots=True)
class KeyBatch:
    """The dedup keys of one shard as the index takes them: digests and their items' seqs."""

    digests: bytes  # 16 bytes a key
    seqs: array[int]  # "q": the item each key belongs to

    def __len__(self) -> int:
        return len(self.seqs)


def batch_of(index: Iterable[tuple[int, Sequence[str]]]) -> KeyBatch:
    """The batch of (seq, keys) pairs as a shard's lines give them."""
    digests = bytearray()
    seqs = array("q")
    for seq, keys in index:
        for key in keys:
            digests += key_digest(key)
            seqs.append(seq)
    return KeyBatch(bytes(digests), seqs)


def keyfile_path(shard: Path) -> Path:
    return shard.with_suffix(SUFFIX)


def read_keyfile(
    shard: Path, stat: os.stat_result, lines_crc: int
) -> tuple[Layout, KeyBatch] | None:
    """The layout and keys saved for `shard` as `stat` describes it, or None (not trusted)."""
    try:
        data = keyfile_path(shard).read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, size, mtime, docs, keys, crc, payload_crc = _HEADER.unpack_from(data)
    if magic != _MAGIC or (size, mtime) != (stat.st_size, stat.st_mtime_ns):
        return None
    payload = memoryview(data)[_HEADER.size :]
    expected = docs * (8 + 8 + 4 + 4) + keys * (8 + _DIGEST)
    if crc != lines_crc or len(payload) != expected or zlib.crc32(payload) != payload_crc:
        return None
    layout = Layout()
    at = 0
    for column, width in (
        (layout.seqs, 8),
        (layout.offsets, 8),
        (layout.lengths, 4),
        (layout.crcs, 4),
    ):
        at = _fill(column, payload, at, docs * width)
    seqs = array("q")
    at = _fill(seqs, payload, at, keys * 8)
    return layout, KeyBatch(payload[at:].tobytes(), seqs)


def write_keyfile(
    shard: Path, stat: os.stat_result, lines_crc: int, layout: Layout, keys: KeyBatch
) -> None:
    """Save `layout` and `keys` for `shard` (as `stat` describes it); a failure is ignored."""
    layout = layout.in_seq_order()
    columns = [layout.seqs, layout.offsets, layout.lengths, layout.crcs, keys.seqs]
    payload = b"".join(_little(column) for column in columns) + keys.digests
    header = _HEADER.pack(
        _MAGIC,
        stat.st_size,
        stat.st_mtime_ns,
        len(layout.seqs),
        len(keys),
        lines_crc,
        zlib.crc32(payload),
    )
    path = keyfile_path(shard)
    temp = path.with_name(f".{path.name}.tmp")  # removed at open by remove_stale_temp_files
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(header + payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        temp.replace(path)
    except OSError:  # a full disk, say: the shard is read line by line next time
        with contextlib.suppress(OSError):
            temp.unlink()


def remove_orphan_keyfiles(directory: Path) -> None:
    """The key files whose shard is gone (a prune emptied it): never trusted, removed."""
    for path in directory.glob(f"*{SUFFIX}"):
        if not path.with_suffix(".json").exists():
            with contextlib.suppress(OSError):
                path.unlink()


def _fill(column: array[int], payload: memoryview, at: int, length: int) -> int:
    column.frombytes(payload[at : at + length])
    if not _LITTLE:
        column.byteswap()
    return at + length


def _little(column: array[int]) -> bytes:
    if _LITTLE:
        return column.tobytes()
    swapped = array(column.typecode, column)
    swapped.byteswap()
    return swapped.tobytes()
