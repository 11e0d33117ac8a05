"""`TinyStore`: the embedded backend, one data directory, implementing `bot.store.ports.Store`.

Writing. One process writes a directory (it holds LOCK; see files.py). Inside
it, transactions run one at a time (`_writer`): a transaction stages its
changes in memory (`Changes`), reading through them, and `Engine.commit`
writes them and swaps them in when the block ends; an exception inside the
block drops them. Transactions hold no lock that readers take, so searches and
listings never wait for a poll or a disk.

Reading without the lock. `TinyStore.open(..., read_only=True)` loads the
directory without taking LOCK, so `briefbot search`, `status` and `digest
--dry-run` work while `briefbot run` holds it. The snapshot is consistent
because the writer only ever replaces whole files by rename (a reader sees a
file's old version or its new one, never a mix) and writes item shards before
state.json: the reader reads state.json first, then the shards, so every item
a cursor or a record in state.json points to was on disk before the shards
were read. At worst the reader sees items newer than the state that goes with
them, which is the state a crash between the two writes leaves, and which the
bot already handles. A shard that disappears between listing and reading (a
prune) makes the reader start over.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from bot.store.ports import Heartbeat, StoreError, StoreReadOnlyError, StoreStats
from bot.store.records.repos import RecordSource
from bot.store.records.repositories import RecordRepositories
from bot.store.tinydb.engine import Changes, Engine, ItemChanges
from bot.store.tinydb.files import DirectoryLock, describe_holder, ensure_directory, is_held
from bot.store.tinydb.heartbeat import read_heartbeat, write_heartbeat
from bot.store.tinydb.items import ItemRepo
from bot.store.tinydb.repos import CommittedRecords, StagedRecords

__all__ = ["TinyStore", "TinyTransaction"]

# A reader retries this often when the writer removes a file under it.
_READ_ATTEMPTS = 5


class _Repositories(RecordRepositories):
    """Every repository over one record source and one item view."""

    def __init__(self, items: ItemRepo, source: RecordSource) -> None:
        super().__init__(source)
        self.items = items


class TinyTransaction(_Repositories):
    """One unit of work over a TinyStore (see `bot.store.ports.Transaction`)."""

    def __init__(self, engine: Engine) -> None:
        self.changes = Changes(ItemChanges(next_seq=engine.next_seq))
        super().__init__(
            ItemRepo(engine, self.changes.items), StagedRecords(engine.state, self.changes.state)
        )


class TinyStore(_Repositories):
    """Items, feed state and records in one data directory (see the module docstring)."""

    def __init__(self, engine: Engine, *, lock: DirectoryLock | None) -> None:
        # Use TinyStore.open().
        super().__init__(ItemRepo(engine), CommittedRecords(lambda: engine.state))
        self._engine = engine
        self._lock = lock
        self._writer = threading.Lock()
        self._writing_thread: int | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        *,
        retention_days: int = 180,
        seen_retention_days: int | None = None,
        read_only: bool = False,
    ) -> TinyStore:
        """Open `data_dir` to write (locked; created if missing) or to read (no lock).

        Items are kept `retention_days` after first seen; their dedup keys
        `seen_retention_days` (default twice as long), so that an item that
        reappears after pruning is still known. Raises StoreLockedError when
        another process holds the directory (writing only), StoreError when it
        is unreadable.
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
        windows = {"retention_days": retention_days, "seen_retention_days": seen_retention_days}
        if read_only:
            return cls(_read_snapshot(directory, windows), lock=None)
        ensure_directory(directory)
        lock = DirectoryLock(directory)
        lock.acquire()
        try:
            engine = Engine(directory, **windows)
            engine.load(write=True)
        except FileNotFoundError as exc:
            lock.release()
            raise StoreError(f"cannot read {exc.filename}: it disappeared") from None
        except BaseException:
            lock.release()
            raise
        return cls(engine, lock=lock)

    # ------------------------------------------------------------------ the Store port

    @property
    def read_only(self) -> bool:
        return self._lock is None

    @property
    def directory(self) -> Path:
        return self._engine.dir

    @contextmanager
    def transaction(self) -> Iterator[TinyTransaction]:
        """A unit of work; committed (durably) when the block ends without an exception."""
        self._check_writable()
        self._refuse_inside_transaction("a transaction")
        with self._writer:
            self._check_writable()
            self._writing_thread = threading.get_ident()
            tx = TinyTransaction(self._engine)
            try:
                yield tx
                self._engine.commit(tx.changes)
            finally:
                # Seqs handed out are never handed out again (see engine.py).
                self._engine.next_seq = max(self._engine.next_seq, tx.changes.items.next_seq)
                self._writing_thread = None

    def prune(self, now: datetime) -> int:
        self._check_writable()
        self._refuse_inside_transaction("prune")
        with self._writer:
            self._check_writable()
            return self._engine.prune(now)

    def stats(self) -> StoreStats:
        return self._engine.stats()

    def beat(self, heartbeat: Heartbeat) -> None:
        if self._lock is None:
            raise StoreReadOnlyError("the heartbeat is written by the process that holds the data")
        write_heartbeat(self._engine.dir, heartbeat)

    def last_heartbeat(self) -> Heartbeat | None:
        return read_heartbeat(self._engine.dir)

    def heartbeats(self) -> list[Heartbeat]:
        last = self.last_heartbeat()
        return [] if last is None else [last]

    def close(self) -> None:
        """Release the directory (a transaction in progress finishes first). Twice is harmless."""
        self._refuse_inside_transaction("close")
        with self._writer:
            if self._closed:
                return
            self._closed = True
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "closed" if self._closed else "open"
        return f"<TinyStore {self._engine.dir} {mode}, {self._engine.count()} items>"

    # ------------------------------------------------------------------ internals

    @property
    def engine(self) -> Engine:
        """For tests and benchmarks of this backend only (crash hooks)."""
        return self._engine

    def _refuse_inside_transaction(self, what: str) -> None:
        # The writer lock is not re-entrant: the same thread would wait for itself.
        if self._writing_thread == threading.get_ident():
            raise RuntimeError(f"{what} was asked for inside a transaction on the same thread")

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self._engine.dir} is closed")
        if self._lock is None:
            directory = self._engine.dir
            if is_held(directory):
                raise StoreReadOnlyError(describe_holder(directory))
            raise StoreReadOnlyError(
                f"the store at {directory} was opened to read; this needs to write"
            )


def _read_snapshot(directory: Path, windows: dict[str, int]) -> Engine:
    if not directory.exists():
        # Nothing stored yet: an empty snapshot, not a new directory.
        return Engine(directory, **windows)
    if not directory.is_dir():
        raise StoreError(f"data directory {directory} exists but is not a directory")
    for _ in range(_READ_ATTEMPTS):
        engine = Engine(directory, **windows)
        try:
            engine.load(write=False)
        except FileNotFoundError:
            continue  # the writer pruned a file as we read: start over
        return engine
    raise StoreError(f"cannot read a consistent snapshot of {directory}: it keeps changing")
