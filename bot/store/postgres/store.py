"""`PgStore`: the PostgreSQL backend of `bot.store.ports.Store`.

Opening (`PgStore.open(url)`) makes a connection pool (psycopg_pool) and
brings the schema up to date (migrations.py): a process that starts with an
older schema migrates it, under an advisory lock, before anything else.

Transactions. Each unit of work is one database transaction on one pooled
connection. Those that write items lock the one row of `seq_counter` (SELECT
... FOR UPDATE) before their first item write, held until COMMIT or
ROLLBACK (items.py): item writers take turns across processes, and seqs
become visible in commit order (an identity column would number rows at
INSERT, so a reader could see seq 2 committed before seq 1 and move a cursor
past 1 for good; the design note saw it happen). The others (a digest's
ledger, an alert delivery, a subscription) lock only the records they read
or write (records.py), so replicas' record writes run side by side. Inside
the process a lock still serializes transactions, so waiting writers do not
each hold a pooled connection.

Reads outside a transaction take a pooled connection per statement and see
what is committed; a read that spans several statements (`items.after` in
pages) sees whole commits, in seq order. `commit_checks` run inside each
transaction just before COMMIT: a replica's leases and leadership are checked
there (coordination.py), and a failed check rolls the work back. `read_only` stores (the CLI's
`search`, `status`) refuse transactions; any number of processes may read
and write one database, so nothing is locked at open.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import orjson
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.models import as_utc
from bot.store.ports import Heartbeat, StoreError, StoreReadOnlyError, StoreStats
from bot.store.postgres.db import InTransaction, Pooled, reason
from bot.store.postgres.items import PgItems, lock_seq
from bot.store.postgres.migrations import migrate
from bot.store.postgres.records import PgRecords
from bot.store.postgres.url import describe_url
from bot.store.records.codec import iso, parse_time
from bot.store.records.repositories import RecordRepositories

__all__ = ["PgStore", "PgTransaction"]

log = logging.getLogger(__name__)

_POOL_MAX = 8
#: A replica silent this long is forgotten by `briefbot health` (not named as stale).
_FORGET_REPLICA = timedelta(days=1)
_CONNECT_TIMEOUT = 10


def _store_errors(
    make: Callable[[PgStore], AbstractContextManager[PgTransaction]],
) -> Callable[[PgStore], AbstractContextManager[PgTransaction]]:
    """`make`'s unit of work, with a database error (a refused COMMIT too) as a StoreError.

    As TinyDB's: callers handle StoreError (the service, the CLI, the jobs); the
    sentence is the server's, without connection details.
    """

    @functools.wraps(make)
    @contextmanager
    def wrapped(store: PgStore) -> Iterator[PgTransaction]:
        try:
            with make(store) as tx:
                yield tx
        except psycopg.Error as exc:
            raise StoreError(f"the database {store.where}: {reason(exc)}") from exc

    return wrapped


class _Repositories(RecordRepositories):
    def __init__(self, db: Pooled | InTransaction) -> None:
        super().__init__(PgRecords(db))
        self.items = PgItems(db)


class PgTransaction(_Repositories):
    """One unit of work over a PgStore (see `bot.store.ports.Transaction`)."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.db = InTransaction(conn)
        super().__init__(self.db)


class PgStore(_Repositories):
    """Items, feed states and records in one PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]],
        *,
        where: str,
        read_only: bool,
        retention_days: int,
        seen_retention_days: int,
    ) -> None:
        # Use PgStore.open().
        self.pool = pool
        self.where = where
        super().__init__(Pooled(pool))
        self._read_only = read_only
        self._retention = timedelta(days=retention_days)
        self._seen_retention = timedelta(days=seen_retention_days)
        self._writer = threading.Lock()
        self._writing_thread: int | None = None
        self._closed = False
        #: Called with each transaction before it commits (fencing: coordination.py).
        self.commit_checks: list[Callable[[PgTransaction], None]] = []
        #: The migrations this open applied ("0001_initial", ...), for `briefbot migrate`.
        self.migrated: list[str] = []

    @classmethod
    def open(
        cls,
        url: str,
        *,
        retention_days: int = 180,
        seen_retention_days: int | None = None,
        read_only: bool = False,
        pool_size: int = _POOL_MAX,
    ) -> PgStore:
        """Connect to the database at `url` and migrate its schema (also when read-only).

        Raises StoreError naming the server (never the password) when it cannot
        be reached or the schema cannot be brought up to date.
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
        where = describe_url(url)
        try:
            # One connection first: a wrong address or password fails at once, not
            # after the pool's retries; and the schema is migrated on it.
            with psycopg.connect(url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
                applied = migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"the database {where}: {reason(exc)}") from None
        pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT},
            open=False,
            name="briefbot",
        )
        try:
            pool.open(wait=True, timeout=_CONNECT_TIMEOUT)
        except PoolTimeout:
            pool.close()
            raise StoreError(f"cannot connect to the database {where}") from None
        store = cls(
            pool,
            where=where,
            read_only=read_only,
            retention_days=retention_days,
            seen_retention_days=seen_retention_days,
        )
        store.migrated = [f"{m.version:04d}_{m.name}" for m in applied]
        return store

    # ------------------------------------------------------------------ the Store port

    @property
    def read_only(self) -> bool:
        return self._read_only

    @_store_errors
    @contextmanager
    def transaction(self) -> Iterator[PgTransaction]:
        """A unit of work; committed when the block ends without an exception."""
        self._check_writable()
        self._refuse_inside_transaction("a transaction")
        with self._writer, self.pool.connection() as conn:
            self._writing_thread = threading.get_ident()
            try:
                with conn.transaction():
                    tx = PgTransaction(conn)
                    yield tx
                    for check in self.commit_checks:
                        check(tx)  # raising rolls the unit of work back
            finally:
                self._writing_thread = None

    def prune(self, now: datetime) -> int:
        """Items first seen before the retention window become tombstones; expired ones go."""
        now = as_utc(now)
        cutoff, seen_cutoff = now - self._retention, now - self._seen_retention
        with self.transaction() as tx:
            db = tx.db
            lock_seq(db)
            doomed = db.rows(
                "SELECT seq, first_seen, doc FROM items"
                " WHERE first_seen IS NULL OR first_seen < %s",
                (cutoff,),
            )
            stones = []
            for seq, first_seen, doc in doomed:
                seen = first_seen or now
                if seen >= seen_cutoff:
                    keys = orjson.loads(doc).get("dedup_keys") or []
                    stones.append((seq, seen, orjson.dumps(keys).decode()))
            db.run_many(
                "INSERT INTO tombstones (seq, first_seen, dedup_keys) VALUES (%s, %s, %s)"
                " ON CONFLICT (seq) DO NOTHING",
                stones,
            )
            gone = [seq for seq, _, _ in doomed]
            db.run("DELETE FROM items WHERE seq = ANY(%s)", (gone,))
            expired = db.rows(
                "DELETE FROM tombstones WHERE first_seen IS NULL OR first_seen < %s RETURNING seq",
                (seen_cutoff,),
            )
            forget = gone + [int(row[0]) for row in expired]
            db.run(
                "DELETE FROM item_keys k WHERE k.seq = ANY(%s)"
                " AND NOT EXISTS (SELECT 1 FROM items i WHERE i.seq = k.seq)"
                " AND NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.seq = k.seq)",
                (forget,),
            )
        return len(gone)

    def stats(self) -> StoreStats:
        db = Pooled(self.pool)
        [(items, tombstones, last, size)] = db.rows(
            "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM tombstones),"
            " (SELECT last FROM seq_counter WHERE id = 1), pg_database_size(current_database())"
        )
        return StoreStats(
            items=int(items), tombstones=int(tombstones), last_seq=int(last), bytes=int(size)
        )

    def beat(self, heartbeat: Heartbeat) -> None:
        """Replace this replica's heartbeat (`heartbeat.replica`); forget those silent a day."""
        if self._read_only:
            raise StoreReadOnlyError("the heartbeat is written by the running service")
        value = {
            "pid": heartbeat.pid,
            "slack_mode": heartbeat.slack_mode,
            "slack_ok": heartbeat.slack_ok,
            "slack_checked_at": iso(heartbeat.slack_checked_at),
            "slack_detail": heartbeat.slack_detail.replace("\x00", " "),
            "host": heartbeat.host.replace("\x00", " "),
            "leader": heartbeat.leader,
        }
        db = Pooled(self.pool)
        db.run(
            "INSERT INTO replica_heartbeats (replica, at, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (replica) DO UPDATE SET at = EXCLUDED.at, value = EXCLUDED.value",
            (heartbeat.replica.replace("\x00", " "), heartbeat.at, orjson.dumps(value).decode()),
        )
        db.run("DELETE FROM replica_heartbeats WHERE at < %s", (heartbeat.at - _FORGET_REPLICA,))

    def last_heartbeat(self) -> Heartbeat | None:
        beats = self.heartbeats()
        return max(beats, key=lambda beat: beat.at) if beats else None

    def heartbeats(self) -> list[Heartbeat]:
        rows = Pooled(self.pool).rows(
            "SELECT replica, at, value FROM replica_heartbeats ORDER BY replica"
        )
        found = []
        for replica, at, value in rows:
            try:
                data = orjson.loads(value)
                found.append(
                    Heartbeat(
                        at=as_utc(at),
                        pid=int(data["pid"]),
                        slack_mode=str(data["slack_mode"]),
                        slack_ok=bool(data["slack_ok"]),
                        slack_checked_at=parse_time(data.get("slack_checked_at")),
                        slack_detail=str(data.get("slack_detail") or ""),
                        replica=str(replica),
                        host=str(data.get("host") or ""),
                        leader=bool(data.get("leader", True)),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("cannot read heartbeat %r in %s: %s", replica, self.where, exc)
        return found

    def close(self) -> None:
        """Close the pool (a transaction in progress finishes first). Twice is harmless."""
        self._refuse_inside_transaction("close")
        with self._writer:
            if self._closed:
                return
            self._closed = True
            self.pool.close()

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
        mode = "read-only" if self._read_only else "closed" if self._closed else "open"
        return f"<PgStore {self.where} {mode}>"

    # ------------------------------------------------------------------ internals

    def _refuse_inside_transaction(self, what: str) -> None:
        if self._writing_thread == threading.get_ident():
            raise RuntimeError(f"{what} was asked for inside a transaction on the same thread")

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.where} is closed")
        if self._read_only:
            raise StoreReadOnlyError(
                f"the store at {self.where} was opened to read; this needs to write"
            )
