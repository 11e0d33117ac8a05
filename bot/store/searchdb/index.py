"""`FtsIndex`: the search index kept in `search.sqlite`, following a store without rebuilds.

Start-up: opening costs a file open; nothing is read into memory. The
file remembers the seq every stored item up to which it holds
(`indexed_through`); `catch_up` indexes the store's items after it, batch by
batch, each batch and the new mark in one SQLite transaction. So a crash
between the store's commit and the index's leaves the index behind, never
wrong, and the next catch-up (at open, after each poll, before each search)
indexes what is missing. Items are never fed from a poll's own list.

A file that is unreadable, of another FORMAT, ahead of the store, or whose
newest item is not the store's item with that seq (a data directory made
again) is deleted and built again from the store, in the background: it is
a cache, the store is the truth.

Pruned items: `forget_pruned` (after each prune, and after the catch-up at
open) drops the indexed items the store no longer has. Until then a search
loading its hits from the store skips them; one that reads hits from the
file alone (`items=None`) would show them.

Several processes may share the file (the service writes, `briefbot search`
reads, or catches up when it finds the file behind): SQLite's WAL lets
readers read while one writer writes, and each write re-reads the mark under
its write lock (BEGIN IMMEDIATE), so two writers never index an item twice.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from bot.find.query.matcher import Query
from bot.find.query.question import parse_question
from bot.find.search.results import SearchResults
from bot.find.textindex import feeds_by_tag
from bot.models import Item
from bot.store.ports import ItemReader
from bot.store.searchdb.docrows import docs_rows, flag_primaries, flags_of
from bot.store.searchdb.run import run_matching, run_search
from bot.store.searchdb.schema import FILE_NAME, FORMAT, Row, connect, decode_item, row_of

__all__ = ["FtsIndex"]

_MARK_SQL = "SELECT value FROM meta WHERE key = 'indexed_through'"

log = logging.getLogger(__name__)


class FtsIndex:
    """The search index in `directory/search.sqlite` (see the module docstring).

    `items`: the store's items, to catch up from and to show and re-check
    hits with (fresh extras, pruned items skipped). None: a reader of the
    file alone, which never writes it and shows the items the file holds.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        feed_tags: Mapping[str, Iterable[str]] | None = None,
        items: ItemReader | None = None,
    ) -> None:
        self.path = Path(directory) / FILE_NAME
        self._items = items
        self._feed_tags: dict[str, tuple[str, ...]] = {}
        self._tag_feeds: dict[str, list[str]] = {}
        self.set_feed_tags(feed_tags or {})
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        self._catch_up_lock = threading.Lock()
        self._ready = threading.Event()
        self._ready.set()
        self._build_error: str | None = None
        self._indexed_through = 0
        self._stopping = False  # close() asks a catch-up under way to stop
        self._open_checked()

    # ------------------------------------------------------------------ the file

    def _open_checked(self) -> None:
        """Open the file, or make it again when it is not this store's cache (module doc)."""
        try:
            conn = self._conn()
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") not in (None, FORMAT) or not self._belongs(conn, meta):
                raise _Foreign(f"{self.path}: another format or another store's; rebuilt")
            if "format" not in meta:
                conn.execute(
                    "INSERT INTO meta VALUES ('format', ?), ('indexed_through', '0')", (FORMAT,)
                )
            self._indexed_through = int(meta.get("indexed_through", 0))
        except (sqlite3.DatabaseError, ValueError) as error:
            if self._items is None:
                raise
            log.warning("search index: %s; building it again", error)
            self._reset()

    def _belongs(self, conn: sqlite3.Connection, meta: Mapping[str, str]) -> bool:
        """Whether the file indexes this store: its newest item the store also has (by
        seq) must be the store's item with that seq. The file may be ahead of the store
        a reader opened (the service indexed what was stored since its snapshot)."""
        if self._items is None or int(meta.get("indexed_through", 0)) == 0:
            return True
        newest = conn.execute(
            "SELECT item FROM items WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
            (self._items.last_seq,),
        ).fetchone()
        if newest is None:
            return True
        indexed = decode_item(newest[0])
        stored = self._items.by_seq([indexed.seq])
        return not stored or (stored[0].feed_id, stored[0].id) == (indexed.feed_id, indexed.id)

    def _reset(self) -> None:
        self._close_connections()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").unlink()
        conn = self._conn()
        conn.execute("INSERT INTO meta VALUES ('format', ?), ('indexed_through', '0')", (FORMAT,))
        self._indexed_through = 0

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (a connection is not shared between threads at once)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, create=True)
            self._local.conn = conn
            with self._conn_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection (each thread opens its own again on next use); a
        catch-up under way stops after its batch, waited for up to 10 s."""
        self._stopping = True
        held = self._catch_up_lock.acquire(timeout=10)
        try:
            self._close_connections()
        finally:
            self._stopping = False
            if held:
                self._catch_up_lock.release()

    def _close_connections(self) -> None:
        with self._conn_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ writing

    def set_feed_tags(self, feed_tags: Mapping[str, Iterable[str]]) -> None:
        """Replace the feed id -> tags mapping (after a configuration reload)."""
        tags = {feed: tuple(values) for feed, values in feed_tags.items()}
        self._tag_feeds = {tag: sorted(feeds) for tag, feeds in feeds_by_tag(tags).items()}
        self._feed_tags = tags

    def catch_up(self, *, timeout: float = -1, chunk: int = 2000) -> bool:
        """Index every stored item after `indexed_through`; whether all are now (waits
        up to `timeout` for one running elsewhere; -1: as long as it takes)."""
        if self._items is None:
            return True
        if not self._catch_up_lock.acquire(timeout=timeout):
            return False
        return self._catch_up_held(chunk)

    def catch_up_in_background(self, *, chunk: int = 2000) -> threading.Thread:
        """`catch_up`, then `forget_pruned`, in a daemon thread; searches wait for it."""
        self._catch_up_lock.acquire()
        self._ready.clear()
        self._build_error = None

        def run() -> None:
            started = time.perf_counter()
            try:
                if self._catch_up_held(chunk):
                    self.forget_pruned()
            except (sqlite3.Error, OSError) as error:
                self._build_error = f"removing pruned items failed: {error}"
                log.exception("search index: removing pruned items failed")
            finally:
                self._ready.set()
            log.info("search index: caught up in %.1f s", time.perf_counter() - started)

        thread = threading.Thread(target=run, name="search-index-catch-up", daemon=True)
        thread.start()
        return thread

    def _catch_up_held(self, chunk: int) -> bool:
        items = self._items
        assert items is not None
        try:
            while not self._stopping and (
                batch := list(itertools.islice(items.after(self._indexed_through), chunk))
            ):
                rows = [row_of(item) for item in batch if item.seq > 0]
                self._indexed_through = self._write(rows, batch[-1].seq)
        except (sqlite3.Error, OSError, ValueError) as error:
            self._build_error = f"indexing the stored items failed: {error}"
            log.exception("search index: catching up stopped after seq %d", self._indexed_through)
            return False
        else:
            self._build_error = None
            return not self._stopping
        finally:
            self._catch_up_lock.release()

    def _write(self, rows: list[Row], through: int, *, only_new: bool = True) -> int:
        """Index `rows` and raise the mark to `through`, in one transaction; the new mark.

        `only_new`: skip the rows at or under the mark (another process indexed them).
        """
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            (mark,) = conn.execute(_MARK_SQL).fetchone()
            fresh = [row for row in rows if row.seq > int(mark) or not only_new]
            docs = docs_rows(conn, fresh)
            conn.executemany(
                "INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [doc[:-1] for doc in docs],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO items VALUES (?, ?)", [(r.seq, r.item) for r in fresh]
            )
            conn.executemany(
                "INSERT OR IGNORE INTO tags VALUES (?, ?)",
                [(tag, r.seq) for r in fresh for tag in r.tags],
            )
            conn.executemany(
                "INSERT INTO fts (rowid, title, summary, forms, chars, flags)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.seq, r.title, r.summary, r.forms, r.chars, doc[-1])
                    for r, doc in zip(fresh, docs, strict=True)
                ],
            )
            flag_primaries(conn, {r.story for r in fresh if r.story != r.seq})
            mark = max(int(mark), through)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'indexed_through'", (str(mark),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(mark)

    def add(self, item: Item) -> None:
        """Index one stored item (see `add_many`)."""
        self.add_many((item,))

    def add_many(self, items: Iterable[Item]) -> None:
        """Index these stored items (an item already indexed under its seq is replaced).

        For an index of given items (tests, benchmarks); one that follows a
        store learns its items by catching up.
        """
        batch = [item for item in items if item.seq > 0]
        if not batch:
            return
        conn = self._conn()
        seqs = sorted({item.seq for item in batch})
        marks = ", ".join("?" * len(seqs))
        present = conn.execute(f"SELECT seq FROM docs WHERE seq IN ({marks})", seqs)  # noqa: S608
        known = [int(seq) for (seq,) in present]
        if known:
            self._delete(known)
        latest = {item.seq: item for item in batch}  # the last of one seq wins
        rows = [row_of(item) for item in latest.values()]
        self._indexed_through = self._write(rows, max(seqs), only_new=False)

    def forget_pruned(self) -> int:
        """Drop the indexed items the store no longer holds (pruned); return how many.

        Cheap when there are none: the file then holds as many items as the
        store (after a catch-up it holds every stored one). Else the store's
        seqs are read once (a prune happens once a day).
        """
        items = self._items
        if items is None or len(self) <= items.count():
            return 0
        # What the store knows of: a reader's snapshot may be older than the file.
        through = min(self._indexed_through, items.last_seq)
        stored = {item.seq for item in items.after(0)}
        conn = self._conn()
        gone = [
            int(seq)
            for (seq,) in conn.execute("SELECT seq FROM docs WHERE seq <= ?", (through,))
            if seq not in stored
        ]
        for start in range(0, len(gone), 500):
            self._delete(gone[start : start + 500])
        if gone:
            log.info("search index: %d pruned items removed", len(gone))
        return len(gone)

    def _delete(self, seqs: list[int]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            marks = ", ".join("?" * len(seqs))
            found = conn.execute(
                f"SELECT i.item, d.ns, d.hasdup FROM items i JOIN docs d ON d.seq = i.seq"  # noqa: S608
                f" WHERE i.seq IN ({marks})",
                seqs,
            )
            for blob, ns, hasdup in found.fetchall():
                row = row_of(decode_item(blob))
                flags = flags_of(row, ns, bool(hasdup))
                conn.execute(
                    "INSERT INTO fts (fts, rowid, title, summary, forms, chars, flags)"
                    " VALUES ('delete', ?, ?, ?, ?, ?, ?)",
                    (row.seq, row.title, row.summary, row.forms, row.chars, flags),
                )
            conn.execute(f"DELETE FROM tags WHERE seq IN ({marks})", seqs)  # noqa: S608
            conn.execute(f"DELETE FROM docs WHERE seq IN ({marks})", seqs)  # noqa: S608
            conn.execute(f"DELETE FROM items WHERE seq IN ({marks})", seqs)  # noqa: S608
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ the store's files

    def level_stamp(self) -> str | None:
        """The stamp of the store's files the index was last level with (`record_level`)."""
        row = self._conn().execute("SELECT value FROM meta WHERE key = 'level_stamp'").fetchone()
        return None if row is None else str(row[0])

    def record_level(self, stamp: str) -> None:
        """Record that the index holds exactly the store's items as of the files `stamp`
        names: the caller took the stamp before opening its snapshot of the store, then
        caught up and forgot pruned items (a reader of the file alone trusts it while the
        store's files keep that stamp: `bot.store.tinydb.peek`)."""
        self._conn().execute("INSERT OR REPLACE INTO meta VALUES ('level_stamp', ?)", (stamp,))

    # ------------------------------------------------------------------ state

    @property
    def indexed_through(self) -> int:
        return self._indexed_through

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def build_error(self) -> str | None:
        return self._build_error

    def __len__(self) -> int:
        (count,) = self._conn().execute("SELECT count(*) FROM docs").fetchone()
        return int(count)

    def __repr__(self) -> str:
        return f"<FtsIndex {self.path} through seq {self._indexed_through}>"

    # ------------------------------------------------------------------ searching

    def search_text(
        self, text: str, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        """Search a line a user typed (query syntax or plain words); raises QueryError."""
        return self.search(parse_question(text), now=now, limit=limit, offset=offset, wait=wait)

    def search(
        self, query: Query, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        """The best `limit` stories matching `query` after the first `offset` (as
        `SearchEngine.search`); catches up with the store first, waiting up to `wait`."""
        complete = self._current(wait)
        return run_search(self, query, now, limit=limit, offset=offset, complete=complete)

    def matching(
        self, query: Query, seqs: Iterable[int], *, now: datetime, wait: float = 10.0
    ) -> set[int] | None:
        """The seqs among `seqs` whose items match `query`, exactly; None while incomplete."""
        if not self._current(wait):
            return None
        return run_matching(self, query, set(seqs), now)

    def _current(self, wait: float) -> bool:
        deadline = time.monotonic() + wait
        self.catch_up(timeout=wait)
        ready = self._ready.wait(max(0.0, deadline - time.monotonic()))
        return ready and self._build_error is None

    # ------------------------------------------------------------------ for run.py

    def connection(self) -> sqlite3.Connection:
        return self._conn()

    def load(self, seqs: Sequence[int]) -> dict[int, Item]:
        """The items with these seqs: from the store when it was given, else from the file."""
        if not seqs:
            return {}
        if self._items is not None:
            return {item.seq: item for item in self._items.by_seq(list(seqs))}
        found: dict[int, Item] = {}
        conn = self._conn()
        wanted = list(seqs)
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ", ".join("?" * len(part))
            rows = conn.execute(f"SELECT item FROM items WHERE seq IN ({marks})", part)  # noqa: S608
            for (blob,) in rows:
                item = decode_item(blob)
                found[item.seq] = item
        return found

    def tags_of_feed(self, feed_id: str) -> tuple[str, ...]:
        return self._feed_tags.get(feed_id, ())

    def feeds_with_tag(self, tag: str) -> list[str]:
        return self._tag_feeds.get(tag, [])


class _Foreign(sqlite3.DatabaseError):
    """The file is not this store's index (or of another FORMAT): a reader of the file
    alone gets it as the database error it already handles by searching the store."""
