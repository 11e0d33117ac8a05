"""Durable storage of items, seen ids, feed state and small records: the one module on TinyDB.

The data directory (BRIEFBOT_DATA; created mode 0700, every file in it 0600):

    items-2026-11.json        items first seen in November 2026, at most
    items-2026-11-p2.json     SHARD_MAX_ITEMS per file (then -p2, -p3, ...)
    seen-2026-05.json         tombstones: dedup keys of pruned items, by month first seen
    state.json                feed states, record tables (subscriptions, alert queues,
                              digest cursors) and the seq high-water mark
    LOCK, owner.json          one process at a time; owner.json names it

Each .json file is a TinyDB database (tables of documents keyed by id) whose
`_meta` table holds its schema version. TinyDB's stock JSONStorage truncates and
rewrites the whole file in place on every insert: thousands of full rewrites
per poll, and a kill -9 mid-write leaves a cut-off file. `_MemoryStorage`
instead keeps the data in memory, a TinyDB `write()` only marks the file dirty,
and `commit()` replaces each dirty file atomically (temp file in the same
directory, fsync, os.replace, fsync of the directory). A file on disk is thus
always a whole old version or a whole new one. Items are sharded by month and
size so that a poll rewrites one or two small files, however large the store.
An item's TinyDB document id is its `seq`.

Why the order of writes in `commit()` is safe: item shards are written first,
state.json last. A crash between the two leaves new items on disk without the
feed state (ETag, Last-Modified) that came with them; the next poll then
refetches the feed and the dedup index drops what is already stored. The
reverse order could save an ETag whose items were lost: the server would
answer 304 and the items would never come back. Cursors in state.json
(alerts, digests) likewise never point past items that are on disk.

`seq` is never stored as a counter. At open the next seq is derived as one
past the highest of: every stored item, every tombstone, and the high-water
mark in state.json (which only ever raises it; it matters once every tombstone
has expired). A crash between files therefore cannot make seq go backwards.

Pruning (`prune`) deletes data, so its order is the reverse: the tombstones and
the high-water mark are made durable first, the pruned items are removed
after. A crash in between leaves an item both stored and tombstoned, which is
harmless and finished by the next prune. `prune` commits; it is not a step of
a poll cycle.

Items live in memory, because TinyDB's storage interface reads and writes
whole databases: each document is held as its encoded JSON (`_EncodedShard`)
and decoded when read; the dedup index keys on 16-byte digests of the dedup
keys. About 2 KB per item: ~200 MB and a cold start of about 1 s at 100,000
items (BENCHMARKS.md; as dicts, 3.4 KB). Of tombstone files only the keys are
held (~0.7 KB per tombstone); `prune` reads their documents from disk. Item and
tombstone files keep TinyDB's format with one document per line, each starting
with its seq and dedup keys, so that opening the store decodes only the keys.

Every public method holds one re-entrant lock: scheduler threads and Slack
handlers share one Store. Nothing outside this module sees TinyDB: items come
back as `bot.models.Item`, feed state as `FeedState`, records as plain dicts.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import logging
import math
import os
import re
import socket
import threading
import zlib
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson
from filelock import FileLock, Timeout
from tinydb import TinyDB
from tinydb.storages import Storage

from bot.models import UTC, FeedState, Item, as_utc, replace

__all__ = ["SCHEMA_VERSION", "SHARD_MAX_ITEMS", "Store", "StoreError", "StoreLockedError"]

log = logging.getLogger(__name__)

#: The layout version written into every file's `_meta` table.
SCHEMA_VERSION = 1
#: Items per shard file: bounds what one commit rewrites (~1-2 MB per file).
SHARD_MAX_ITEMS = 2000

_ITEMS_TABLE = "items"
_FEEDS_TABLE = "feeds"
_META_TABLE = "_meta"
_META_DOC = "1"
_RECORD_PREFIX = "rec_"
_STATE_FILE = "state.json"
_OWNER_FILE = "owner.json"
_LOCK_FILE = "LOCK"
_TMP_SUFFIX = ".tmp"

_ITEM_SHARD_RE = re.compile(r"^items-(\d{4}-\d{2})(?:-p(\d+))?\.json$")
_SEEN_SHARD_RE = re.compile(r"^seen-(\d{4}-\d{2})\.json$")
_TABLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# JSON text is UTF-8 (RFC 8259 section 8.1), where lone surrogates cannot be
# encoded; feed text decoded from stray "&#xD800;" can carry them.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

_FEED_STATE_FIELDS = {f.name: str(f.type) for f in fields(FeedState)}


class StoreError(Exception):
    """The data directory cannot be opened, read or written, or a value cannot be stored."""


class StoreLockedError(StoreError):
    """Another process holds the data directory."""


# --------------------------------------------------------------------------- files


class _MemoryStorage(Storage):
    """A TinyDB storage that holds the data in memory; `write()` only marks it dirty."""

    def __init__(self, data: dict[str, dict[str, Any]], *, dirty: bool) -> None:
        super().__init__()
        self.data = data
        self.dirty = dirty

    def read(self) -> dict[str, dict[str, Any]] | None:
        # TinyDB treats None as "empty database".
        return self.data or None

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data
        self.dirty = True


class _DataFile:
    """One TinyDB file of the data directory, held in memory until flushed."""

    def __init__(self, path: Path, kind: str, data: dict[str, dict[str, Any]], *, dirty: bool):
        self.path = path
        self.kind = kind
        self.storage = _MemoryStorage(data, dirty=dirty)
        self.db = TinyDB(storage=lambda: self.storage)
        self._next_ids: dict[str, int] = {}

    @classmethod
    def create(cls, path: Path, kind: str) -> _DataFile:
        data = {_META_TABLE: {_META_DOC: {"schema": SCHEMA_VERSION, "kind": kind}}}
        return cls(path, kind, data, dirty=True)

    @classmethod
    def load(cls, path: Path, kind: str) -> _DataFile:
        data, migrated = _read_tables(path, kind)
        return cls(path, kind, data, dirty=migrated)

    @property
    def dirty(self) -> bool:
        return self.storage.dirty

    def raw(self, table: str) -> dict[str, Any]:
        """The table's documents by id (str), as stored: read-only for callers."""
        return self.storage.data.get(table, {})

    def replace_doc(self, table: str, doc_id: int, doc: dict[str, Any]) -> None:
        """Swap an existing document for `doc` in O(1).

        TinyDB's Table.update() rebuilds the whole table dict on every call
        (Table._update_table), which made 1,000 single-item updates cost
        O(1,000 x shard size). Safe here: the data is ours in memory, nothing
        uses TinyDB's query cache, and the old dict is left untouched for any
        reader still holding it.
        """
        self.storage.data[table][str(doc_id)] = doc
        self.storage.dirty = True

    def insert_doc(self, table: str, doc: dict[str, Any]) -> int:
        """Add a document under a fresh id in O(1) (Table.insert rebuilds the table too).

        Only for tables written through insert_doc/replace_doc/delete_doc, so
        no TinyDB Table object holds a cached next id for them.
        """
        docs = self.storage.data.setdefault(table, {})
        doc_id = self._next_ids.get(table) or max((int(k) for k in docs), default=0) + 1
        docs[str(doc_id)] = doc
        self._next_ids[table] = doc_id + 1
        self.storage.dirty = True
        return doc_id

    def delete_doc(self, table: str, doc_id: int) -> None:
        """Remove a document in O(1), if present."""
        docs = self.storage.data.get(table)
        if docs is not None and docs.pop(str(doc_id), None) is not None:
            self.storage.dirty = True

    def serialize(self) -> bytes:
        return orjson.dumps(self.storage.data)

    def mark_clean(self) -> None:
        self.storage.dirty = False


class _EncodedShard:
    """An items-*.json or seen-*.json file, each document held as its encoded JSON until read.

    A document kept as a dict costs about twice its JSON size in memory (a
    dict, a str per field, a list per list); kept as the bytes that go into
    the file it costs its JSON size plus 33 bytes. Items are read far less
    often than they are held (a digest, a search hit, an alert), tombstones
    only when they expire, and decoding one takes a few microseconds. The file
    format is TinyDB's: `serialize` splices the stored bytes into the file
    without re-encoding, one document per line (see `_split_lines`).
    """

    def __init__(
        self,
        path: Path,
        kind: str,
        tables: dict[str, dict[str, Any]],
        docs: dict[int, bytes],
        *,
        dirty: bool,
    ) -> None:
        self.path = path
        self.kind = kind  # "items" or "seen": also the name of the documents' table
        self.tables = tables  # every other table (its _meta), as loaded
        self.docs = docs  # seq -> encoded document
        self.dirty = dirty

    @classmethod
    def create(cls, path: Path, kind: str) -> _EncodedShard:
        meta = {_META_TABLE: {_META_DOC: {"schema": SCHEMA_VERSION, "kind": kind}}}
        return cls(path, kind, meta, {}, dirty=True)

    @classmethod
    def load(
        cls, path: Path, kind: str, *, keep_docs: bool = True
    ) -> tuple[_EncodedShard, list[tuple[int, list[str]]]]:
        """The shard and the (seq, dedup keys) of each of its documents.

        `keep_docs=False`: only the keys are wanted (the shard comes back
        without documents, unless it must be rewritten in the line layout).
        """
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
        fast = _split_lines(raw, kind, keep_docs=keep_docs)
        if fast is not None:
            tables, docs, index = fast
            return cls(path, kind, tables, docs, dirty=False), index
        # Written by TinyDB, by hand or by an older briefbot: decode it all,
        # and mark it dirty so the next commit rewrites it line by line.
        data, migrated = _read_tables(path, kind, raw)
        found = data.pop(kind, {})
        docs = {}
        index = list(_indexed_docs(path, found))
        for (seq, keys), doc in zip(index, found.values(), strict=True):
            # The document id is the seq the indexes use; a "seq" field that
            # disagrees (a hand edit) does not win.
            rest = {k: v for k, v in doc.items() if k not in ("seq", "dedup_keys")}
            docs[seq] = _encode({"seq": seq, "dedup_keys": keys, **rest})
        return cls(path, kind, data, docs, dirty=migrated or bool(docs)), index

    def count(self) -> int:
        return len(self.docs)

    def get(self, seq: int) -> bytes | None:
        return self.docs.get(seq)

    def add(self, docs: Iterable[dict[str, Any]]) -> None:
        """Add documents, each starting with "seq" and "dedup_keys" (`_split_lines`)."""
        for doc in docs:
            self.docs[doc["seq"]] = _encode(doc)
        self.dirty = True

    def replace(self, seq: int, doc: dict[str, Any]) -> None:
        self.docs[seq] = _encode(doc)
        self.dirty = True

    def remove(self, seqs: Iterable[int]) -> None:
        for seq in seqs:
            if self.docs.pop(seq, None) is not None:
                self.dirty = True

    def iter_docs(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for seq, blob in list(self.docs.items()):
            yield seq, _decode_item(blob, self.path, seq)

    def serialize(self) -> bytes:
        """TinyDB's JSON, one document per line (see `_split_lines`)."""
        name = b'"' + self.kind.encode() + b'":{'
        docs = b",\n".join(b'"%d":%b' % (seq, blob) for seq, blob in self.docs.items())
        meta = self.tables.setdefault(_META_TABLE, {}).setdefault(_META_DOC, {})
        if docs:
            meta[_LINES_KEY] = {"count": len(self.docs), "crc32": zlib.crc32(docs)}
        else:
            meta.pop(_LINES_KEY, None)
        head = orjson.dumps(self.tables)
        head = b"{" if head == b"{}" else head[:-1] + b","
        if not docs:
            return head + name + b"}}"
        return head + name + b"\n" + docs + _DOCS_CLOSE

    def mark_clean(self) -> None:
        self.dirty = False


# A shard as `_EncodedShard.serialize` writes it: the other tables, then its
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


def _split_lines(
    raw: bytes, kind: str, *, keep_docs: bool = True
) -> tuple[dict[str, dict[str, Any]], dict[int, bytes], list[tuple[int, list[str]]]] | None:
    """Read a shard written line by line without decoding its documents, or None.

    Opening the store must index every document's dedup keys. Decoding each
    whole document for that (and encoding it again to hold it as bytes) was
    most of a cold start; in this layout a line is `"<seq>":{"seq":<seq>,
    "dedup_keys":[...],...}` and only the keys are decoded. orjson escapes
    newlines inside strings, so every newline of the table separates two
    documents. The rest of each document is decoded when it is read; damage
    there is reported then (`_decode_item`). Anything else (an older layout,
    another schema version, a line that does not fit) returns None: the caller
    decodes the whole file.
    """
    opening = b'"' + kind.encode() + b'":{\n'
    start = raw.find(opening)
    if start < 1 or not raw.endswith(_DOCS_CLOSE):
        return None
    try:
        head = raw[:start]
        tables = orjson.loads(head[:-1] + b"}" if head.endswith(b",") else head + b"}")
    except orjson.JSONDecodeError:
        return None
    meta = tables.get(_META_TABLE, {}).get(_META_DOC, {}) if isinstance(tables, dict) else {}
    if meta.get("schema") != SCHEMA_VERSION or meta.get("kind") != kind:
        return None
    last = len(raw) - len(_DOCS_CLOSE)
    lines = meta.get(_LINES_KEY)
    if not isinstance(lines, dict) or lines.get("crc32") != zlib.crc32(
        memoryview(raw)[start + len(opening) : last]
    ):
        return None
    docs: dict[int, bytes] = {}
    index: list[tuple[int, list[str]]] = []
    match, loads, find = _LINE_RE.match, orjson.loads, raw.find
    # Slices of `raw` itself, one copy per document: splitting into lines
    # first would allocate each document twice (and fragment the heap).
    pos = start + len(opening)
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
        if keep_docs:
            docs[seq] = raw[found.end(1) + 2 : end - 1 if raw[end - 1] == _COMMA else end]
        index.append((seq, keys))
        pos = end + 1
    if len(index) != lines.get("count"):
        return None
    return tables, docs, index


def _decode_item(blob: bytes, where: Path, seq: int) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = orjson.loads(blob)
    except orjson.JSONDecodeError as exc:
        raise StoreError(
            f"item {seq} in {where} is damaged ({exc}); restore its items-*.json file from a backup"
        ) from None
    return doc


def _encode(doc: Mapping[str, Any]) -> bytes:
    """`doc` as compact JSON in a block of its own size.

    orjson hands back its whole working buffer (measured: 8 KB allocated for a
    1.5 KB document), which would make holding the bytes cost more than the
    dict; the copy is exact.
    """
    return memoryview(orjson.dumps(doc)).tobytes()


def _read_tables(
    path: Path, kind: str, raw: bytes | None = None
) -> tuple[dict[str, dict[str, Any]], bool]:
    """A data file's tables, migrated to SCHEMA_VERSION, and whether migration changed them."""
    if raw is None:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StoreError(
            f"{path} is not valid JSON ({exc}); restore it from a backup or move it away"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreError(f"{path} is not a TinyDB file (expected an object of tables)")
    data, migrated = _migrate(path, kind, data)
    found = data.get(_META_TABLE, {}).get(_META_DOC, {}).get("kind", kind)
    if found != kind:
        raise StoreError(f"{path} holds {found!r} data where {kind!r} data was expected")
    return data, migrated


def _write_files(files: Iterable[_DataFile | _EncodedShard], directory: Path) -> None:
    """Replace each file atomically, then make the renames durable.

    Every temp file is written and fsynced before the first rename, and the
    directory is fsynced once after the last (rename durability needs the
    directory entry on disk: see fsync(2), "Calling fsync() does not
    necessarily ensure that the entry in the directory ... has also reached disk").
    """
    staged: list[tuple[Path, _DataFile | _EncodedShard]] = []
    current: Path = directory
    try:
        for f in files:
            current = f.path
            tmp = f.path.with_name(f".{f.path.name}{_TMP_SUFFIX}")
            _write_fsynced(tmp, f.serialize())
            staged.append((tmp, f))
        for tmp, f in staged:
            current = f.path
            tmp.replace(f.path)
        current = directory
        if staged:
            _fsync_directory(directory)
    except OSError as exc:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise StoreError(f"cannot write {current}: {exc.strerror or exc}") from exc
    for _, f in staged:
        f.mark_clean()


def _write_fsynced(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        # The mode above only applies when the file is created; a leftover
        # temp file keeps its own, so set it explicitly.
        os.fchmod(fd, 0o600)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_files(paths: Iterable[Path], directory: Path) -> None:
    removed = False
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot remove {path}: {exc.strerror}") from exc
        removed = True
    if removed:
        _fsync_directory(directory)


# --------------------------------------------------------------------------- migrations

_Migration = Callable[[str, dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]
# from-version -> function returning the data at from-version + 1.
_MIGRATIONS: dict[int, _Migration] = {}


def _migration(from_version: int) -> Callable[[_Migration], _Migration]:
    def register(func: _Migration) -> _Migration:
        _MIGRATIONS[from_version] = func
        return func

    return register


def _schema_version(data: Mapping[str, Any]) -> int:
    meta = data.get(_META_TABLE, {}).get(_META_DOC)
    if meta is None:
        return 0
    version = meta.get("schema") if isinstance(meta, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        return -1
    return version


def _migrate(
    path: Path, kind: str, data: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Bring `data` read from `path` up to SCHEMA_VERSION; say whether anything changed."""
    version = _schema_version(data)
    if version < 0:
        raise StoreError(f"{path}: the _meta table holds no valid schema version")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, but this briefbot understands at most "
            f"version {SCHEMA_VERSION}; upgrade briefbot or use another BRIEFBOT_DATA"
        )
    start = version
    while version < SCHEMA_VERSION:
        try:
            data = _MIGRATIONS[version](kind, data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"{path}: cannot migrate from schema version {version}: {exc!r}"
            ) from exc
        version += 1
    if version != start:
        log.info("migrated %s from schema version %d to %d", path, start, version)
    return data, version != start


@_migration(0)
def _migrate_v0_to_v1(kind: str, data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Version 0 (unversioned) files lacked `_meta`, and items lacked `dedup_keys`."""
    if kind == "items":
        for doc_id, doc in data.get(_ITEMS_TABLE, {}).items():
            doc.setdefault("seq", int(doc_id))
            if "dedup_keys" not in doc:
                doc["dedup_keys"] = list(
                    _dedup_keys(doc["feed_id"], doc["id"], doc.get("link_title_key"))
                )
    data[_META_TABLE] = {_META_DOC: {"schema": 1, "kind": kind}}
    return data


# --------------------------------------------------------------------------- values


def _dedup_keys(feed_id: str, item_id: str, link_title_key: str | None = None) -> tuple[str, ...]:
    # models.Item owns the key format; build a throwaway Item rather than copy it.
    return Item(id=item_id, feed_id=feed_id, title="", link_title_key=link_title_key).dedup_keys


_blake2b = hashlib.blake2b


def _key_digest(key: str) -> bytes:
    """The dedup index's key: 16 bytes of BLAKE2b instead of the key itself.

    Keys are feed id + item id or link + title, often 100-200 characters; two
    per item made a third of the index's memory. At 128 bits a collision (an
    item wrongly taken as known) has odds of about n^2 / 2^129: 1e-29 for a
    million keys.
    """
    try:
        data = key.encode("utf-8")
    except UnicodeEncodeError:
        # Stored keys had lone surrogates replaced (`_to_json`): hash what was stored.
        data = _SURROGATE_RE.sub("\ufffd", key).encode("utf-8")
    return _blake2b(data, digest_size=16).digest()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _to_json(value: Any, where: str) -> Any:
    """A deep copy of `value` made only of JSON types; raise StoreError naming the bad part."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise StoreError(f"{where} is an integer outside the 64-bit range JSON readers keep")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StoreError(f"{where} is {value}, which JSON cannot represent")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, sub in value.items():
            if not isinstance(key, str):
                raise StoreError(f"{where} has a key {key!r} that is not a string")
            out[_SURROGATE_RE.sub("\ufffd", key)] = _to_json(sub, f"{where}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_to_json(sub, f"{where}[{i}]") for i, sub in enumerate(value)]
    raise StoreError(
        f"{where} is a {type(value).__name__}, not a JSON value "
        "(str, int, float, bool, None, list or dict)"
    )


def _item_to_doc(item: Item) -> dict[str, Any]:
    where = f"item {item.id!r} of feed {item.feed_id!r}"
    # seq and dedup_keys first: a shard is indexed from these two alone
    # (`_split_lines`).
    doc = {
        "seq": item.seq,
        "dedup_keys": list(item.dedup_keys),
        "id": item.id,
        "feed_id": item.feed_id,
        "title": item.title,
        "summary": item.summary,
        "link": item.link,
        "published": _iso(item.published),
        "authors": list(item.authors),
        "tags": list(item.tags),
        "guid": item.guid,
        "link_title_key": item.link_title_key,
        "first_seen": _iso(item.first_seen),
        "backlog": item.backlog,
    }
    cleaned: dict[str, Any] = _to_json(doc, where)
    cleaned["extras"] = _to_json(item.extras, f"{where}: extras")
    return cleaned


def _doc_to_item(doc: Mapping[str, Any]) -> Item:
    extras = doc.get("extras") or {}
    return Item(
        id=doc["id"],
        feed_id=doc["feed_id"],
        title=doc.get("title") or "",
        summary=doc.get("summary") or "",
        link=doc.get("link"),
        published=_parse_time(doc.get("published")),
        authors=tuple(doc.get("authors") or ()),
        tags=tuple(doc.get("tags") or ()),
        guid=doc.get("guid"),
        link_title_key=doc.get("link_title_key"),
        first_seen=_parse_time(doc.get("first_seen")),
        backlog=bool(doc.get("backlog")),
        seq=int(doc["seq"]),
        # A fresh decode of the stored bytes: the caller's copy is its own.
        extras=extras,
    )


def _feed_state_to_doc(state: FeedState) -> dict[str, Any]:
    doc = {}
    for name in _FEED_STATE_FIELDS:
        value = getattr(state, name)
        doc[name] = _iso(value) if isinstance(value, datetime) else value
    cleaned: dict[str, Any] = _to_json(doc, f"state of feed {state.feed_id!r}")
    return cleaned


def _doc_to_feed_state(doc: Mapping[str, Any]) -> FeedState:
    # Unknown keys (written by a newer minor version) are ignored and missing
    # ones take the dataclass default, so adding a field needs no migration.
    values: dict[str, Any] = {}
    for name, annotation in _FEED_STATE_FIELDS.items():
        if name in doc:
            value = doc[name]
            values[name] = _parse_time(value) if "datetime" in annotation else value
    return FeedState(**values)


def _month_of(when: datetime) -> str:
    return f"{when:%Y-%m}"


def _item_shard_name(month: str, part: int) -> str:
    return f"items-{month}.json" if part == 1 else f"items-{month}-p{part}.json"


# --------------------------------------------------------------------------- the store


class Store:
    """Items, seen ids, feed state and record tables in one locked data directory.

    Writes are held in memory until `commit()`; see the module docstring for
    what a crash can and cannot lose. Use `Store.open(...)`, ideally as a
    context manager: leaving the block commits, unless it is left by an
    exception, in which case uncommitted work is dropped (as a crash would).
    """

    def __init__(self, data_dir: Path, *, retention_days: int, seen_retention_days: int) -> None:
        # Use Store.open(); __init__ only sets up empty indexes.
        self._dir = data_dir
        self._retention = timedelta(days=retention_days)
        self._seen_retention = timedelta(days=seen_retention_days)
        self._lock = threading.RLock()
        self._file_lock: FileLock | None = None
        self._closed = False
        self._state: _DataFile = _DataFile.create(data_dir / _STATE_FILE, "state")
        self._shards: dict[str, _EncodedShard] = {}  # file name -> item shard
        # Tombstone files: only their keys are held (in _keys); the documents
        # are read from disk by `prune`, the one place that needs them.
        self._seen: dict[str, Path] = {}  # file name -> path
        self._parts: dict[str, int] = {}  # month -> highest shard part number
        self._keys: dict[bytes, int] = {}  # digest of a dedup key -> seq (stored or tombstoned)
        self._seq_shard: dict[int, str] = {}  # seq of a stored item -> shard file name
        self._seqs: list[int] = []  # seqs of stored items, ascending
        self._tombstones: dict[int, str] = {}  # seq of a pruned item -> seen file name
        self._record_ids: dict[str, dict[str, int]] = {}  # state table -> key -> doc id
        self._next_seq = 1
        self._high_water = 0
        #: Test hook: called by commit() after item shards are durable and
        #: before state.json is written, so a crash test can stop right there.
        self._after_shard_flush: Callable[[], None] | None = None

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        *,
        retention_days: int = 180,
        seen_retention_days: int | None = None,
    ) -> Store:
        """Lock `data_dir` (created if missing) for this process and load it.

        Items are kept `retention_days` after first seen; their dedup keys
        `seen_retention_days` (default twice as long) so that an item that
        reappears after pruning is still known. Raises StoreLockedError when
        another process holds the directory, StoreError when it is unreadable.
        """
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, not {retention_days}")
        if seen_retention_days is None:
            seen_retention_days = 2 * retention_days
        if seen_retention_days < retention_days:
            raise ValueError(
                f"seen_retention_days ({seen_retention_days}) must be at least "
                f"retention_days ({retention_days})"
            )
        directory = Path(data_dir)
        store = cls(
            directory, retention_days=retention_days, seen_retention_days=seen_retention_days
        )
        store._acquire_directory()
        try:
            store._load()
        except BaseException:
            store._release_directory()
            raise
        return store

    def close(self, *, commit: bool = True) -> None:
        """Commit pending work (unless `commit=False`), then release the data directory.

        Closing twice is harmless. After close every other method raises StoreError.
        """
        with self._lock:
            if self._closed:
                return
            try:
                if commit:
                    self.commit()
            finally:
                self._closed = True
                self._release_directory()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(commit=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._seq_shard)} items"
        return f"<Store {self._dir} {state}>"

    # ------------------------------------------------------------------ items

    def is_known(self, item: Item) -> bool:
        """True when any of the item's dedup keys is stored or tombstoned."""
        with self._lock:
            self._ensure_open()
            return any(_key_digest(key) in self._keys for key in item.dedup_keys)

    def add_items(
        self, items: Iterable[Item], *, now: datetime, backlog: bool = False
    ) -> list[Item]:
        """Store the items not known yet (by any dedup key, also within `items`).

        Each stored copy gets the next `seq`, `first_seen=now` and `backlog`;
        the copies are returned in input order. Durable only after `commit()`.
        Raises StoreError, storing nothing, when an item holds a non-JSON value.
        """
        with self._lock:
            self._ensure_open()
            now = as_utc(now)
            fresh: list[Item] = []
            batch_keys: set[bytes] = set()
            for item in items:
                keys = [_key_digest(k) for k in item.dedup_keys]
                if any(k in self._keys or k in batch_keys for k in keys):
                    continue
                batch_keys.update(keys)
                fresh.append(item)
            # Convert everything before touching any index, so a bad item
            # leaves the store as it was.
            stored: list[Item] = []
            docs: list[dict[str, Any]] = []
            for seq, item in enumerate(fresh, start=self._next_seq):
                kept = replace(item, seq=seq, first_seen=now, backlog=backlog)
                doc = _item_to_doc(kept)
                docs.append(doc)
                # The caller gets its own copy of the cleaned extras (tuples
                # now lists), as a later read would return them.
                stored.append(replace(kept, extras=copy.deepcopy(doc["extras"])))
            self._insert_item_docs(docs, _month_of(now))
            return stored

    def get_item(self, feed_id: str, item_id: str) -> Item | None:
        """The stored item with this id in this feed, or None (also once pruned)."""
        with self._lock:
            self._ensure_open()
            seq = self._keys.get(_key_digest(_dedup_keys(feed_id, item_id)[0]))
            if seq is None or (blob := self._item_blob(seq)) is None:
                return None
        return _doc_to_item(_decode_item(blob, self._dir, seq))

    def get_items_by_seq(self, seqs: Iterable[int]) -> list[Item]:
        """The stored items with these seqs, in the order given; unknown seqs are skipped."""
        with self._lock:
            self._ensure_open()
            seqs = list(seqs)
            blobs = [self._item_blob(seq) for seq in seqs]
        # Decoded outside the lock: the encoded documents are immutable.
        return [
            _doc_to_item(_decode_item(blob, self._dir, seq))
            for seq, blob in zip(seqs, blobs, strict=True)
            if blob is not None
        ]

    def iter_items(
        self, *, after_seq: int = 0, feed_ids: Collection[str] | None = None
    ) -> Iterator[Item]:
        """Stored items with seq > after_seq (of these feeds, if given), in seq order.

        The lock is taken per item, not for the whole iteration, so other
        threads keep working while a caller walks the store; an item pruned
        meanwhile is skipped, one added meanwhile is not included.
        """
        with self._lock:
            self._ensure_open()
            seqs = self._seqs[bisect_right(self._seqs, after_seq) :]
        wanted = None if feed_ids is None else set(feed_ids)
        for seq in seqs:
            with self._lock:
                self._ensure_open()
                blob = self._item_blob(seq)
            if blob is None:
                continue
            doc = _decode_item(blob, self._dir, seq)
            if wanted is not None and doc["feed_id"] not in wanted:
                continue
            yield _doc_to_item(doc)

    def item_count(self) -> int:
        """How many items are stored (pruned ones not counted)."""
        with self._lock:
            self._ensure_open()
            return len(self._seq_shard)

    @property
    def last_seq(self) -> int:
        """The highest seq ever given (0 for a new store); cursors compare against it."""
        with self._lock:
            self._ensure_open()
            return self._next_seq - 1

    def update_item_extras(self, feed_id: str, item_id: str, extras: Mapping[str, Any]) -> None:
        """Merge `extras` into a stored item's extras (top-level keys replaced).

        Raises StoreError when the item is not stored or a value is not JSON.
        Durable after `commit()`.
        """
        with self._lock:
            self._ensure_open()
            seq = self._keys.get(_key_digest(_dedup_keys(feed_id, item_id)[0]))
            name = None if seq is None else self._seq_shard.get(seq)
            if seq is None or name is None:
                raise StoreError(f"no stored item {item_id!r} in feed {feed_id!r}")
            cleaned = _to_json(extras, f"extras for item {item_id!r} of feed {feed_id!r}")
            shard = self._shards[name]
            old = _decode_item(shard.docs[seq], shard.path, seq)
            shard.replace(seq, {**old, "extras": {**(old.get("extras") or {}), **cleaned}})

    # ------------------------------------------------------------------ feed state

    def get_feed_state(self, feed_id: str) -> FeedState | None:
        with self._lock:
            self._ensure_open()
            doc = self._get_state_doc(_FEEDS_TABLE, feed_id)
            return None if doc is None else _doc_to_feed_state(doc)

    def feed_states(self) -> dict[str, FeedState]:
        with self._lock:
            self._ensure_open()
            return {
                doc["key"]: _doc_to_feed_state(doc["value"])
                for doc in self._state.raw(_FEEDS_TABLE).values()
            }

    def put_feed_state(self, state: FeedState) -> None:
        """Replace the feed's state. Durable after `commit()`."""
        with self._lock:
            self._ensure_open()
            self._put_state_doc(_FEEDS_TABLE, state.feed_id, _feed_state_to_doc(state))

    # ------------------------------------------------------------------ records

    def get_record(self, table: str, key: str) -> dict[str, Any] | None:
        """A copy of the record stored under `key` in `table`, or None."""
        with self._lock:
            self._ensure_open()
            doc = self._get_state_doc(_record_table(table), key)
            return None if doc is None else copy.deepcopy(doc)

    def put_record(self, table: str, key: str, value: Mapping[str, Any]) -> None:
        """Store `value` (JSON values only) under `key` in `table`, replacing any old one.

        Tables are created on first use; names are lowercase letters, digits
        and `_`. Durable after `commit()`.
        """
        with self._lock:
            self._ensure_open()
            name = _record_table(table)
            if not isinstance(key, str) or not key:
                raise StoreError(f"record key in table {table!r} must be a non-empty string")
            if not isinstance(value, Mapping):
                raise StoreError(f"record {key!r} in table {table!r} must be a mapping")
            self._put_state_doc(name, key, _to_json(value, f"record {key!r} in table {table!r}"))

    def delete_record(self, table: str, key: str) -> None:
        """Remove the record if present. Durable after `commit()`."""
        with self._lock:
            self._ensure_open()
            name = _record_table(table)
            doc_id = self._record_index(name).pop(key, None)
            if doc_id is not None:
                self._state.delete_doc(name, doc_id)

    def records(self, table: str) -> dict[str, dict[str, Any]]:
        """Every record of `table` by key (copies); {} for a table never written."""
        with self._lock:
            self._ensure_open()
            raw = self._state.raw(_record_table(table))
            # One orjson round trip copies the whole table several times faster
            # than deepcopy, and the values are JSON by construction.
            docs: dict[str, dict[str, Any]] = orjson.loads(
                orjson.dumps({doc["key"]: doc["value"] for doc in raw.values()})
            )
            return docs

    # ------------------------------------------------------------------ maintenance

    def commit(self) -> None:
        """Make every change so far durable: item shards first, state.json last."""
        with self._lock:
            self._ensure_open()
            _write_files([f for f in self._shards.values() if f.dirty], self._dir)
            if self._after_shard_flush is not None:
                self._after_shard_flush()
            self._raise_high_water()
            if self._state.dirty:
                _write_files([self._state], self._dir)

    def prune(self, now: datetime) -> int:
        """Remove items first seen more than retention_days before `now`; return how many.

        Their dedup keys stay as tombstones until seen_retention_days after
        first seen; expired tombstones go too, and so do emptied files. Commits
        pending work first and is durable on return.
        """
        with self._lock:
            self._ensure_open()
            now = as_utc(now)
            self.commit()
            cutoff = now - self._retention
            seen_cutoff = now - self._seen_retention

            doomed: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for name, shard in self._shards.items():
                for seq, doc in shard.iter_docs():
                    first_seen = _parse_time(doc.get("first_seen"))
                    if first_seen is None or first_seen < cutoff:
                        doomed.setdefault(name, []).append((seq, doc))

            # Phase 1, additions: tombstones for the doomed items, removal of
            # expired ones, and the high-water mark, durable before any item
            # disappears.
            new_tombstones: dict[str, list[dict[str, Any]]] = {}
            for docs in doomed.values():
                for seq, doc in docs:
                    first_seen = _parse_time(doc.get("first_seen")) or now
                    if seq in self._tombstones or first_seen < seen_cutoff:
                        continue
                    name = f"seen-{_month_of(first_seen)}.json"
                    tombstone = {
                        "seq": seq,
                        "dedup_keys": list(doc["dedup_keys"]),
                        "feed_id": doc["feed_id"],
                        "id": doc["id"],
                        "first_seen": _iso(first_seen),
                    }
                    new_tombstones.setdefault(name, []).append(tombstone)
            # The files change on disk first; the indexes follow only once
            # that succeeded, so a failed write leaves them as the disk is and
            # the next prune starts over from the files.
            touched: dict[str, _EncodedShard] = {}
            for name, tombstones in new_tombstones.items():
                self._seen_file(name, touched).add(tombstones)
            expired = self._expire_tombstones(seen_cutoff, touched)
            self._raise_high_water()
            if self._state.dirty:
                _write_files([self._state], self._dir)
            emptied = [n for n, f in touched.items() if f.count() == 0]
            _write_files([f for n, f in touched.items() if f.dirty and n not in emptied], self._dir)
            _unlink_files((touched[n].path for n in emptied), self._dir)
            for name, tombstones in new_tombstones.items():
                self._seen[name] = self._dir / name
                for tomb in tombstones:
                    self._tombstones[tomb["seq"]] = name
            for seq, keys in expired:
                self._tombstones.pop(seq, None)
                if seq not in self._seq_shard:
                    self._forget_keys(keys, seq)
            for name in emptied:
                self._seen.pop(name, None)

            # Phase 2, deletions: the items themselves.
            pruned = 0
            for name, docs in doomed.items():
                seqs = [seq for seq, _ in docs]
                self._shards[name].remove(seqs)
                for seq, doc in docs:
                    self._seq_shard.pop(seq, None)
                    if seq not in self._tombstones:
                        self._forget_keys(doc["dedup_keys"], seq)
                pruned += len(seqs)
            if pruned:
                gone = {seq for docs in doomed.values() for seq, _ in docs}
                self._seqs = [seq for seq in self._seqs if seq not in gone]
            emptied = [n for n, f in self._shards.items() if f.count() == 0]
            _write_files(
                [f for n, f in self._shards.items() if f.dirty and n not in emptied], self._dir
            )
            _unlink_files((self._shards.pop(n).path for n in emptied), self._dir)
            self._parts = _highest_parts(self._shards)
            if pruned:
                log.info("pruned %d items first seen before %s", pruned, cutoff.isoformat())
            return pruned

    def stats(self) -> dict[str, Any]:
        """Counts and sizes for `check-config`, the health command and benchmarks."""
        with self._lock:
            self._ensure_open()
            files: list[_DataFile | _EncodedShard] = [self._state, *self._shards.values()]
            size = 0
            for path in [*(f.path for f in files), *self._seen.values()]:
                with contextlib.suppress(OSError):
                    size += path.stat().st_size
            return {
                "items": len(self._seq_shard),
                "tombstones": len(self._tombstones),
                "shards": len(self._shards),
                "seen_shards": len(self._seen),
                "bytes": size,
                "last_seq": self._next_seq - 1,
                "uncommitted": any(f.dirty for f in files),
            }

    # ------------------------------------------------------------------ internals

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self._dir} is closed")

    def _acquire_directory(self) -> None:
        directory = self._dir
        try:
            try:
                directory.mkdir(parents=True, mode=0o700)
                # mkdir's mode is filtered by the umask; be explicit. An
                # existing directory is the operator's: its mode is left alone.
                directory.chmod(0o700)
            except FileExistsError:
                if not directory.is_dir():
                    raise StoreError(
                        f"data directory {directory} exists but is not a directory"
                    ) from None
            # thread_local=False: the store is opened and closed from
            # different threads. Don't write into LOCK: filelock owns it.
            lock = FileLock(directory / _LOCK_FILE, timeout=0, mode=0o600, thread_local=False)
            lock.acquire()
        except Timeout:
            raise StoreLockedError(_describe_holder(directory)) from None
        except OSError as exc:
            raise StoreError(
                f"cannot open data directory {directory}: {exc.strerror or exc}"
            ) from exc
        self._file_lock = lock
        try:
            owner = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            tmp = directory / f".{_OWNER_FILE}{_TMP_SUFFIX}"
            _write_fsynced(tmp, orjson.dumps(owner))
            tmp.replace(directory / _OWNER_FILE)
        except OSError as exc:
            self._release_directory()
            raise StoreError(f"cannot write {directory / _OWNER_FILE}: {exc.strerror}") from exc

    def _release_directory(self) -> None:
        lock, self._file_lock = self._file_lock, None
        if lock is None:
            return
        # Remove owner.json while still holding the lock, so it never names a
        # process that no longer holds the directory after a clean close.
        with contextlib.suppress(OSError):
            (self._dir / _OWNER_FILE).unlink()
        lock.release()

    def _load(self) -> None:
        # Loading builds a few hundred thousand dicts and lists; the cyclic GC
        # would rescan the growing heap over and over (about a fifth of a
        # cold start at 100,000 items). Nothing here makes cycles.
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            self._load_files()
        finally:
            if gc_enabled:
                gc.enable()

    def _load_files(self) -> None:
        directory = self._dir
        for stale in directory.glob(f".*{_TMP_SUFFIX}"):
            # Left by a crash mid-write; the real file is the old, whole version.
            with contextlib.suppress(OSError):
                stale.unlink()
        state_path = directory / _STATE_FILE
        if state_path.exists():
            self._state = _DataFile.load(state_path, "state")
        high_water = self._state.raw(_META_TABLE).get(_META_DOC, {}).get("seq_high_water", 0)
        if not isinstance(high_water, int) or isinstance(high_water, bool):
            raise StoreError(f"{state_path}: seq_high_water is {high_water!r}, not an integer")
        self._high_water = high_water
        for name in self._state.storage.data:
            if name == _FEEDS_TABLE or name.startswith(_RECORD_PREFIX):
                self._record_index(name)

        highest = self._high_water
        paths = sorted(directory.glob("*.json"))
        for path in paths:
            name = path.name
            if _ITEM_SHARD_RE.match(name):
                self._shards[name], index = _EncodedShard.load(path, "items")
                # The hot loop of a cold start (two keys per item): locals only.
                seq_shard, keys_index, digest = self._seq_shard, self._keys, _key_digest
                for seq, keys in index:
                    seq_shard[seq] = name
                    for key in keys:
                        keys_index[digest(key)] = seq
                if index:
                    highest = max(highest, max(seq for seq, _ in index))
        # Tombstones after items: a stored item's own entry wins (the two are
        # equal anyway when a crash mid-prune left an item in both).
        for path in paths:
            if _SEEN_SHARD_RE.match(path.name):
                seen, index = _EncodedShard.load(path, "seen", keep_docs=False)
                if seen.dirty:
                    # Another layout (TinyDB's, an older briefbot's): rewrite it
                    # now, as its documents are not kept to be written later.
                    _write_files([seen], directory)
                self._seen[path.name] = path
                for seq, keys in index:
                    self._tombstones[seq] = path.name
                    for key in keys:
                        self._keys.setdefault(_key_digest(key), seq)
                    highest = max(highest, seq)
        self._seqs = sorted(self._seq_shard)
        self._parts = _highest_parts(self._shards)
        self._next_seq = highest + 1

    def _insert_item_docs(self, docs: list[dict[str, Any]], month: str) -> None:
        """Append docs to the month's newest shard, starting a new part when it is full."""
        pos = 0
        while pos < len(docs):
            part = self._parts.get(month, 1)
            name = _item_shard_name(month, part)
            shard = self._shards.get(name)
            if shard is None:
                shard = self._shards[name] = _EncodedShard.create(self._dir / name, "items")
                self._parts[month] = part
            room = SHARD_MAX_ITEMS - shard.count()
            if room <= 0:
                self._parts[month] = part + 1
                continue
            chunk = docs[pos : pos + room]
            shard.add(chunk)
            for doc in chunk:
                seq = doc["seq"]
                self._seq_shard[seq] = name
                self._seqs.append(seq)
                for key in doc["dedup_keys"]:
                    self._keys[_key_digest(key)] = seq
            self._next_seq = chunk[-1]["seq"] + 1
            pos += len(chunk)

    def _item_blob(self, seq: int) -> bytes | None:
        name = self._seq_shard.get(seq)
        return None if name is None else self._shards[name].get(seq)

    def _seen_file(self, name: str, touched: dict[str, _EncodedShard]) -> _EncodedShard:
        """A tombstone file's documents, read from disk once per prune (`touched`)."""
        shard = touched.get(name)
        if shard is None:
            path = self._dir / name
            if name in self._seen and path.exists():
                shard, _index = _EncodedShard.load(path, "seen")
            else:
                shard = _EncodedShard.create(path, "seen")
            touched[name] = shard
        return shard

    def _expire_tombstones(
        self, seen_cutoff: datetime, touched: dict[str, _EncodedShard]
    ) -> list[tuple[int, list[str]]]:
        """Drop expired tombstones from their files (in `touched`); return their (seq, keys)."""
        expired: list[tuple[int, list[str]]] = []
        for name in list(self._seen):
            match = _SEEN_SHARD_RE.match(name)
            if match is not None:
                year, month = (int(part) for part in match.group(1).split("-"))
                if datetime(year, month, 1, tzinfo=UTC) >= seen_cutoff:
                    continue  # first seen on or after the cutoff: nothing in it expires
            seen = self._seen_file(name, touched)
            gone = []
            for seq, doc in seen.iter_docs():
                first_seen = _parse_time(doc.get("first_seen"))
                if first_seen is None or first_seen < seen_cutoff:
                    gone.append(seq)
                    expired.append((seq, list(doc.get("dedup_keys") or ())))
            seen.remove(gone)
        return expired

    def _forget_keys(self, keys: Iterable[str], seq: int) -> None:
        for key in keys:
            digest = _key_digest(key)
            if self._keys.get(digest) == seq:
                del self._keys[digest]

    def _raise_high_water(self) -> None:
        last = self._next_seq - 1
        if last > self._high_water:
            self._state.db.table(_META_TABLE).update({"seq_high_water": last}, doc_ids=[1])
            self._high_water = last

    def _record_index(self, table: str) -> dict[str, int]:
        index = self._record_ids.get(table)
        if index is None:
            index = {doc["key"]: int(doc_id) for doc_id, doc in self._state.raw(table).items()}
            self._record_ids[table] = index
        return index

    def _get_state_doc(self, table: str, key: str) -> dict[str, Any] | None:
        doc_id = self._record_index(table).get(key)
        if doc_id is None:
            return None
        doc: dict[str, Any] = self._state.raw(table)[str(doc_id)]["value"]
        return doc

    def _put_state_doc(self, table: str, key: str, value: dict[str, Any]) -> None:
        index = self._record_index(table)
        doc = {"key": key, "value": value}
        doc_id = index.get(key)
        if doc_id is None:
            index[key] = self._state.insert_doc(table, doc)
        else:
            self._state.replace_doc(table, doc_id, doc)


def _record_table(table: str) -> str:
    if not isinstance(table, str) or not _TABLE_NAME_RE.match(table):
        raise StoreError(
            f"record table name {table!r} must be lowercase letters, digits and _ "
            "(starting with a letter, at most 64 characters)"
        )
    return _RECORD_PREFIX + table


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


def _highest_parts(shards: Mapping[str, object]) -> dict[str, int]:
    parts: dict[str, int] = {}
    for name in shards:
        match = _ITEM_SHARD_RE.match(name)
        if match:
            month, part = match.group(1), int(match.group(2) or 1)
            parts[month] = max(parts.get(month, 1), part)
    return parts


def _describe_holder(directory: Path) -> str:
    """The refusal message, naming the process recorded in owner.json when readable."""
    try:
        owner = orjson.loads((directory / _OWNER_FILE).read_bytes())
        pid, host = int(owner["pid"]), str(owner["host"])
        started = _parse_time(owner.get("started"))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return (
            f"data directory {directory} is in use by another process (its {_OWNER_FILE} "
            "is missing or unreadable); stop it or use another BRIEFBOT_DATA"
        )
    when = f"started {started:%Y-%m-%d %H:%M} UTC on host {host}" if started else f"on host {host}"
    return (
        f"data directory {directory} is in use by process {pid} ({when}); "
        "stop it or use another BRIEFBOT_DATA"
    )
