"""Item and tombstone files (items-*.json, seen-*.json): documents kept on disk, read on demand.

A document kept as a dict costs about twice its JSON size in memory; kept as
its encoded JSON it costs its size (1.5 KB an item: 150 MB at 100,000 items).
A shard read at open or written by a commit keeps neither: only where each
document sits in its file (`shardfile.StoredDocs`), and reads it when wanted
(a digest, a search hit, an alert), a few microseconds from the page cache.
The file format is TinyDB's: `serialize` splices the encoded documents into
the file without re-encoding, one document per line (see `split_lines`).

A shard version holds its documents in memory (`docs`) only while it is being
built by a commit or when it was read in another layout and not rewritten (a
read-only open of an old directory). `settle()`, once its file is written,
drops them for the file.

A shard is never changed in place: `changed()` returns a new version, which is
written to disk and then swapped in, so a reader holding the old one is never
disturbed (it keeps reading the old file; see shardfile.py).
"""

from __future__ import annotations

import contextlib
import copy
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from bot.store.ports import StoreError
from bot.store.tinydb.keyfile import KeyBatch, batch_of, read_keyfile, write_keyfile
from bot.store.tinydb.migrations import META_DOC, META_TABLE, SCHEMA_VERSION, read_tables
from bot.store.tinydb.shardfile import Layout, ShardFile, StoredDocs

__all__ = ["EncodedShard", "decode_doc", "encode", "split_lines"]

Index = list[tuple[int, list[str]]]


class EncodedShard:
    """One items-*.json or seen-*.json file: seq -> encoded document, on disk or in memory."""

    def __init__(
        self,
        path: Path,
        kind: str,
        tables: dict[str, dict[str, Any]],
        docs: dict[int, bytes] | None,
        *,
        dirty: bool,
        stored: StoredDocs | None = None,
    ) -> None:
        self.path = path
        self.kind = kind  # "items" or "seen": also the name of the documents' table
        self.tables = tables  # every other table (its _meta), as loaded
        self.docs = docs  # seq -> encoded document, when held in memory
        self.stored = stored  # where the documents are in the file, when not
        self.dirty = dirty  # loaded in another layout: to be rewritten
        # Where the last `serialize` put each document, the file's size, its lines' CRC
        # and its keys (None when a document did not give them): for `settle`.
        self._written: tuple[Layout, int, int, KeyBatch | None] | None = None

    @classmethod
    def create(cls, path: Path, kind: str) -> EncodedShard:
        meta = {META_TABLE: {META_DOC: {"schema": SCHEMA_VERSION, "kind": kind}}}
        return cls(path, kind, meta, {}, dirty=True)

    @classmethod
    def load(cls, path: Path, kind: str, *, keep_docs: bool = True) -> tuple[EncodedShard, Index]:
        """The shard and the (seq, dedup keys) of each of its documents.

        `keep_docs=False`: only the keys are wanted (the shard comes back
        without documents, unless it must be rewritten in the line layout).
        Otherwise the file stays open and its documents are read from it.
        """
        try:
            if keep_docs:
                file, raw = ShardFile.open(path)
            else:
                file, raw = None, path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
        fast = split_lines(raw, kind, positions=file is not None)
        if fast is not None:
            tables, layout, index = fast
            if file is None:
                return cls(path, kind, tables, {}, dirty=False), index
            stored = StoredDocs(file, layout)
            return cls(path, kind, tables, None, dirty=False, stored=stored), index
        if file is not None:
            file.close()
        # Written by TinyDB, by hand or by an older briefbot: decode it all,
        # and mark it dirty so that it is rewritten line by line.
        data, migrated = read_tables(path, kind, raw)
        found = data.pop(kind, {})
        docs = {}
        index = list(_indexed_docs(path, found))
        for (seq, keys), doc in zip(index, found.values(), strict=True):
            # The document id is the seq the indexes use; a "seq" field that
            # disagrees (a hand edit) does not win.
            rest = {k: v for k, v in doc.items() if k not in ("seq", "dedup_keys")}
            docs[seq] = encode({"seq": seq, "dedup_keys": keys, **rest})
        return cls(path, kind, data, docs, dirty=migrated or bool(docs)), index

    @classmethod
    def load_items(cls, path: Path, *, save_keys: bool) -> tuple[EncodedShard, KeyBatch]:
        """An item shard and its documents' keys, from its key file when that still describes
        it (keyfile.py), else from its lines; `save_keys`: then save the key file (a writer)."""
        try:
            file, stat = ShardFile.open_unread(path)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
        head = _head_of(file.pread(0, _HEAD_READ), "items")
        if head is not None:
            tables, lines_crc = head
            kept = read_keyfile(path, stat, lines_crc)
            if kept is not None:
                layout, keys = kept
                return cls(
                    path, "items", tables, None, dirty=False, stored=StoredDocs(file, layout)
                ), keys
        try:
            raw = file.read()
        except OSError as exc:
            file.close()
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
        fast = split_lines(raw, "items")
        if fast is None:
            file.close()
            shard, index = cls.load(path, "items")  # another layout: decoded, to be rewritten
            return shard, batch_of(index)
        tables, layout, index = fast
        keys = batch_of(index)
        if save_keys and head is not None:
            write_keyfile(path, stat, head[1], layout, keys)
        return cls(path, "items", tables, None, dirty=False, stored=StoredDocs(file, layout)), keys

    def count(self) -> int:
        return len(self.docs) if self.docs is not None else len(self._stored())

    def has(self, seq: int) -> bool:
        if self.docs is not None:
            return seq in self.docs
        return self._stored().position(seq) is not None

    def seqs(self) -> Iterable[int]:
        return self.docs.keys() if self.docs is not None else self._stored().seqs

    def seq_range(self) -> tuple[int, int] | None:
        """The lowest and highest seq held, or None when empty."""
        if self.docs is not None:
            return (min(self.docs), max(self.docs)) if self.docs else None
        seqs = self._stored().seqs
        return (seqs[0], seqs[-1]) if seqs else None

    def get(self, seq: int) -> bytes | None:
        return self.docs.get(seq) if self.docs is not None else self._stored().get(seq)

    def get_many(self, seqs: Iterable[int]) -> dict[int, bytes]:
        """The documents of those of `seqs` held here, by seq (one read of the file when close)."""
        if self.docs is None:
            return self._stored().get_many(seqs)
        docs = self.docs
        return {seq: docs[seq] for seq in seqs if seq in docs}

    def put(self, seq: int, blob: bytes) -> None:
        """Add or replace a document of a version being built (from `create` or `changed`)."""
        if self.docs is None:
            raise RuntimeError(f"{self.path}: a version on disk is not changed in place")
        self.docs[seq] = blob

    def all_docs(self) -> dict[int, bytes]:
        """Every document, by seq (a new dict; one read of the file)."""
        return dict(self.docs) if self.docs is not None else self._stored().all()

    def changed(
        self,
        *,
        add: Iterable[tuple[int, bytes]] = (),
        replace: Mapping[int, bytes] | None = None,
        remove: Iterable[int] = (),
    ) -> EncodedShard:
        """A new version of this shard, in memory, with documents added, replaced or removed."""
        docs = self.all_docs()
        docs.update(add)
        for seq, blob in (replace or {}).items():
            if seq in docs:
                docs[seq] = blob
        for seq in remove:
            docs.pop(seq, None)
        return EncodedShard(self.path, self.kind, copy.deepcopy(self.tables), docs, dirty=True)

    def iter_docs(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for seq, blob in self.all_docs().items():
            yield seq, decode_doc(blob, self.path, seq)

    def serialize(self) -> bytes:
        """TinyDB's JSON, one document per line (see `split_lines`)."""
        if self.docs is None:
            raise RuntimeError(f"{self.path}: only a version built in memory is written")
        name = b'"' + self.kind.encode() + b'":{'
        lines: list[bytes] = []
        layout = Layout()
        keys: KeyBatch | None = _keys_of(self.docs) if self.kind == "items" else None
        position = 0  # from the start of the first line
        for seq, blob in self.docs.items():
            line = b'"%d":%b' % (seq, blob)
            layout.add(seq, position + len(line) - len(blob), len(blob), zlib.crc32(blob))
            lines.append(line)
            position += len(line) + 2  # ",\n"
        docs = b",\n".join(lines)
        meta = self.tables.setdefault(META_TABLE, {}).setdefault(META_DOC, {})
        lines_crc = zlib.crc32(docs)
        if docs:
            meta[_LINES_KEY] = {"count": len(self.docs), "crc32": lines_crc}
        else:
            meta.pop(_LINES_KEY, None)
            keys = None  # an empty shard: nothing to index, no key file
        head = orjson.dumps(self.tables)
        head = b"{" if head == b"{}" else head[:-1] + b","
        if not docs:
            payload = head + name + b"}}"
        else:
            layout = layout.in_seq_order(shift=len(head) + len(name) + 1)
            payload = head + name + b"\n" + docs + _DOCS_CLOSE
        self._written = (layout, len(payload), lines_crc, keys)
        return payload

    def settle(self) -> None:
        """Its file is written: read the documents from it from now on, drop them from memory.

        Kept in memory when the file cannot be opened or is not the size
        written (nothing is lost: the next read of the directory reads it).
        """
        if self.docs is None or self._written is None:
            return
        layout, size, lines_crc, keys = self._written
        file = ShardFile.open_sized(self.path, size)
        if file is not None:
            self.stored, self.docs, self._written = StoredDocs(file, layout), None, None
            if keys is not None:  # the next open reads them from there (keyfile.py)
                with contextlib.suppress(OSError):
                    write_keyfile(self.path, file.stat(), lines_crc, layout, keys)

    def _stored(self) -> StoredDocs:
        if self.stored is None:
            raise RuntimeError(f"{self.path}: a shard with neither documents nor a file")
        return self.stored


# A shard as `EncodedShard.serialize` writes it: the other tables, then its
# documents' table with one document per line, each starting with its seq and keys.
_DOCS_CLOSE = b"\n}}"
# In `_meta`: the count and CRC-32 of the document lines, so that a file edited
# by hand (still valid JSON, lines changed) takes the slow path.
_LINES_KEY = "lines"
_COMMA = ord(",")
_JSON_STR = rb'"[^"\\]*(?:\\.[^"\\]*)*"'  # unrolled: no backtracking per character
_LINE_RE = re.compile(
    rb'"(\d+)":\{"seq":(\d+),"dedup_keys":(\[(?:%b(?:,%b)*)?\])[,}]' % (_JSON_STR, _JSON_STR)
)


def split_lines(
    raw: bytes, kind: str, *, positions: bool = True
) -> tuple[dict[str, dict[str, Any]], Layout, Index] | None:
    """Read a shard written line by line without decoding its documents, or None.

    Opening the store must index every document's dedup keys. Decoding each
    whole document for that was most of a cold start; in this layout a line is
    `"<seq>":{"seq":<seq>, "dedup_keys":[...],...}` and only the keys are
    decoded. orjson escapes newlines inside strings, so every newline of the
    table separates two documents. The rest of each document is decoded when
    it is read; damage there is reported then (`decode_doc`). Anything else
    (an older layout, another schema version, a line that does not fit)
    returns None: the caller decodes the whole file. Returns the other tables,
    where each document is (seq, offset, length, CRC-32; left empty without
    `positions`: only the keys are wanted) and the keys.
    """
    opening = b'"' + kind.encode() + b'":{\n'
    start = raw.find(opening)
    if start < 1 or not raw.endswith(_DOCS_CLOSE):
        return None
    tables = _head_tables(raw[:start])
    meta = tables.get(META_TABLE, {}).get(META_DOC, {}) if tables is not None else {}
    if tables is None or meta.get("schema") != SCHEMA_VERSION or meta.get("kind") != kind:
        return None
    last = len(raw) - len(_DOCS_CLOSE)
    lines = meta.get(_LINES_KEY)
    if not isinstance(lines, dict) or lines.get("crc32") != zlib.crc32(
        memoryview(raw)[start + len(opening) : last]
    ):
        return None
    found = _scan_lines(raw, start + len(opening), last, positions=positions)
    if found is None or len(found[1]) != lines.get("count"):
        return None
    return tables, found[0], found[1]


# A shard's head (its _meta table) is far under this; a longer one is read the slow way.
_HEAD_READ = 4096
_BLOB_KEYS = re.compile(
    rb'\{"seq":(\d+),"dedup_keys":(\[(?:%b(?:,%b)*)?\])[,}]' % (_JSON_STR, _JSON_STR)
)


def _head_of(start: bytes, kind: str) -> tuple[dict[str, dict[str, Any]], int] | None:
    """The other tables and the lines' CRC-32 from a shard's first bytes, when it is in the
    line layout of this schema (what `split_lines` checks first); else None."""
    opening = start.find(b'"' + kind.encode() + b'":{\n')
    if opening < 1:
        return None
    tables = _head_tables(start[:opening])
    meta = tables.get(META_TABLE, {}).get(META_DOC, {}) if tables is not None else {}
    if tables is None or meta.get("schema") != SCHEMA_VERSION or meta.get("kind") != kind:
        return None
    lines = meta.get(_LINES_KEY)
    crc = lines.get("crc32") if isinstance(lines, dict) else None
    return (tables, crc) if isinstance(crc, int) else None


def _keys_of(docs: Mapping[int, bytes]) -> KeyBatch | None:
    """The keys of documents in this layout (each starts with its seq and keys); None if one
    does not (its keys are then read from the file's lines at the next open)."""
    index: Index = []
    for seq, blob in docs.items():
        found = _BLOB_KEYS.match(blob)
        if found is None or int(found.group(1)) != seq:
            return None
        try:
            index.append((seq, orjson.loads(found.group(2))))
        except orjson.JSONDecodeError:
            return None
    return batch_of(index)


def _head_tables(head: bytes) -> dict[str, dict[str, Any]] | None:
    try:
        tables = orjson.loads(head[:-1] + b"}" if head.endswith(b",") else head + b"}")
    except orjson.JSONDecodeError:
        return None
    return tables if isinstance(tables, dict) else None


def _scan_lines(raw: bytes, pos: int, last: int, *, positions: bool) -> tuple[Layout, Index] | None:
    """Where each document of the lines from `pos` to `last` is, and its keys; None for a misfit."""
    layout = Layout()
    index: Index = []
    match, loads, find, crc32 = _LINE_RE.match, orjson.loads, raw.find, zlib.crc32
    add = layout.add
    view = memoryview(raw)  # slices without copies
    while pos <= last:
        end = find(b"\n", pos, last + 1)
        end = last if end < 0 else end
        found = match(raw, pos, end)
        if found is None or found.group(1) != found.group(2):
            return None
        seq = int(found.group(1))
        try:
            keys = loads(found.group(3))
        except orjson.JSONDecodeError:
            return None
        first = found.end(1) + 2
        stop = end - 1 if raw[end - 1] == _COMMA else end
        if positions:
            add(seq, first, stop - first, crc32(view[first:stop]))
        index.append((seq, keys))
        pos = end + 1
    return layout, index


def decode_doc(blob: bytes, where: Path, seq: int) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        raise StoreError(
            f"item {seq} in {where} is damaged ({exc}); restore its items-*.json file from a backup"
        ) from None
    return doc


def encode(doc: Mapping[str, Any]) -> bytes:
    """`doc` as compact JSON in a block of its own size.

    orjson hands back its whole working buffer (measured: 8 KB allocated for a
    1.5 KB document), which would make holding the bytes cost more than the
    dict; the copy is exact.
    """
    return memoryview(orjson.dumps(doc)).tobytes()


def _indexed_docs(path: Path, docs: Mapping[str, Any]) -> Iterator[tuple[int, list[str]]]:
    """(seq, dedup keys) of each document, checking just what the indexes rely on."""
    for doc_id, doc in docs.items():
        try:
            seq = int(doc_id)
            keys = doc["dedup_keys"]
        except (ValueError, TypeError, KeyError):
            seq, keys = 0, None
        if seq < 1 or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise StoreError(f"{path}: document {doc_id!r} is damaged (no seq or dedup_keys)")
        yield seq, keys
