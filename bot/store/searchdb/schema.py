"""The search index file: its tables, how it is opened, and what an item becomes in it.

Tables:

- `docs`: one row per indexed item: seq, story (its `duplicate_of`, else its
  own seq), feed id, time in microseconds, and what ranking reads for every
  candidate (`rank`): the title's and summary's BM25F length norms (`nt`,
  `ns`, from the average lengths when the item was indexed) and its recency
  factor `e` = 2 ** ((time - EPOCH) / half-life), and whether a copy names
  it (`hasdup`, see `docrows`); kept narrow so that its
  pages stay in SQLite's cache;
- `items`: the item itself as compressed JSON (the store's codec), so a
  search can show its hits without opening the store;
- `tags`: (tag, seq), the item's own tags folded (feed tags are configuration,
  applied at search time);
- `fts`: an FTS5 table without content (`content=''`, the index only), whose
  columns hold the analyzer's own tokens (`bot.find.textindex`: folded,
  stemmed, CJK runs as bigrams) separated by spaces, so that a query term and
  a document token meet exactly as in the query language: `title` and
  `summary` (stems, in order: phrases), `forms` (unstemmed plurals, for
  `chips*`), `chars` (each CJK character once, for a one-character query).
  The `ascii` tokenizer splits on spaces and ASCII punctuation only, and
  keeps every non-ASCII character inside a token: it cannot cut a token the
  analyzer made. A fifth column, `flags`, holds tokens no query text names:
  the item's feed and own tags (folded), and what ranking and counting read
  (`docrows`);
- `meta`: the format, the seq every stored item up to which is indexed
  (`indexed_through`), the identity of that item (a data directory made
  again holds other items under the same seqs), and the title and summary
  tokens counted so far (`title_tokens`, `summary_tokens`, `counted`: the
  average lengths of the norms).

Rows of a content-less FTS5 table are deleted by giving the same tokens
again: they are computed again from the JSON in `docs` (the analyzer is
deterministic; a FORMAT change rebuilds the file).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from bot.find.search.analysis import stem_all
from bot.find.search.times import micros
from bot.find.textindex import fold_and_tokenize, fold_text, is_cjk
from bot.models import Item
from bot.store.records.codec import doc_to_item, item_to_doc

__all__ = ["FILE_NAME", "FORMAT", "Row", "connect", "decode_item", "row_of"]

FILE_NAME = "search.sqlite"
#: Bumped whenever what an item becomes here changes: an older file is rebuilt.
FORMAT = "briefbot-search-2"
#: SQLite's page cache per connection (one per thread that searches), at most: the
#: `docs` pages of 100,000 items (4 MB) and the common terms' postings fit.
CACHE_KB = 8_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY,
    story INTEGER NOT NULL,
    feed_id TEXT NOT NULL,
    when_us INTEGER NOT NULL,
    nt REAL NOT NULL,
    ns REAL NOT NULL,
    e REAL NOT NULL,
    hasdup INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (seq INTEGER PRIMARY KEY, item BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS docs_feed ON docs (feed_id, when_us);
CREATE INDEX IF NOT EXISTS docs_when ON docs (when_us);
CREATE INDEX IF NOT EXISTS docs_story ON docs (story);
CREATE TABLE IF NOT EXISTS tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq))
    WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (
    title, summary, forms, chars, flags, content='', tokenize='ascii', columnsize=1
);
"""


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection to the index file (made 0600 first when `create`), schema in place.

    Autocommit mode: callers open their own transactions (BEGIN, BEGIN IMMEDIATE).
    """
    if create and not path.exists():
        # Made by us, owner-only, before SQLite opens it: its -wal and -shm
        # files take the same permissions.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    uri = path.resolve().as_uri() + ("" if create else "?mode=rw")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        if create:
            conn.executescript(_SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


@dataclass(frozen=True, slots=True)
class Row:
    """What one item becomes in the index (see the module docstring)."""

    seq: int
    story: int
    feed_id: str
    when_us: int
    title_len: int
    summary_len: int
    item: bytes
    tags: frozenset[str]
    title: str
    summary: str
    forms: str
    chars: str


def row_of(item: Item) -> Row:
    """The index row of a stored item (its seq must be set)."""
    raw_title = fold_and_tokenize(item.title)[1]
    raw_summary = fold_and_tokenize(item.summary)[1]
    title = stem_all(raw_title)
    summary = stem_all(raw_summary)
    forms: dict[str, None] = {}
    chars: dict[str, None] = {}
    for raw, stem in zip(raw_title + raw_summary, title + summary, strict=True):
        if raw != stem:
            forms.setdefault(raw)
        elif is_cjk(raw):
            chars.update(dict.fromkeys(raw))
    blob = zlib.compress(orjson.dumps(item_to_doc(item)), 1)
    return Row(
        seq=item.seq,
        story=item.duplicate_of or item.seq,
        feed_id=item.feed_id,
        when_us=micros(item.when),
        title_len=len(title),
        summary_len=len(summary),
        item=blob,
        tags=frozenset(fold_text(tag).strip() for tag in item.tags),
        title=" ".join(title),
        summary=" ".join(summary),
        forms=" ".join(forms),
        chars=" ".join(chars),
    )


def decode_item(blob: bytes) -> Item:
    """The item a `Row.item` holds."""
    return doc_to_item(orjson.loads(zlib.decompress(blob)))
