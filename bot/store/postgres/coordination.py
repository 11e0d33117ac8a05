"""`PgCoordination`: replicas of `briefbot run` agreeing through their one PostgreSQL database.

The port is `bot.store.ports.Coordination`; the tables are in sql/0002_replicas.sql.

- Claims: a row per key in `claims`, leased with `UPDATE ... WHERE key IN
  (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING` when nobody holds it or its
  lease ran out, so two replicas never both get it and none waits on another's
  row lock. A background thread renews this replica's leases every third of
  the lease; a replica that dies stops renewing and its leases expire.
- The leader holds the session advisory lock `LEADER_LOCK` on a connection of
  its own (not the pool: a pooled connection goes back with the lock on it).
  Every `check_every` seconds each replica either tries to take it
  (`pg_try_advisory_lock`) or, leading, checks its connection still answers.
  When the leader's process dies its backend ends and the lock is free at
  once (the kernel closes the socket); a follower takes it at its next
  check. A leader cut off from the network is noticed by the server through
  TCP keepalives (set short on that session) and by itself when the check
  fails. Session advisory locks need a session: not through PgBouncer's
  transaction pooling.
- Fencing: `fence(tx)` is one of the store's `commit_checks`. A thread that
  holds claims has them re-read with FOR UPDATE inside its transaction (held
  by this replica, lease not run out); a thread inside `leading()` has the
  advisory lock looked up in `pg_locks` under the leader's backend pid. If
  either is gone the commit raises `LeaseLost` and rolls back.
- Slack deliveries: `first_sight` inserts the key into `slack_deliveries`
  (ON CONFLICT DO NOTHING RETURNING); rows older than a day are deleted by the
  background thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from bot.store.ports import LeaseLost
from bot.store.postgres.db import Pooled
from bot.store.postgres.store import PgStore, PgTransaction

__all__ = ["LEADER_LOCK", "PgCoordination"]

log = logging.getLogger(__name__)

#: The advisory lock the leader holds ("brld"); migrations use another.
LEADER_LOCK = 0x62726C64
_PRUNE_EVERY = 600.0  # seconds between deletions of old Slack delivery keys
_KEEPALIVE = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3"
)


class PgCoordination:
    """Claims, leadership and Slack delivery keys in PostgreSQL (see the module docstring)."""

    def __init__(
        self, store: PgStore, url: str, *, lease_seconds: float = 30.0, check_every: float = 2.0
    ) -> None:
        if lease_seconds <= 0 or check_every <= 0:
            raise ValueError("lease_seconds and check_every must be positive")
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_seconds = lease_seconds
        self.check_every = check_every
        self._db = Pooled(store.pool)
        self._url = url
        self._guard = threading.Lock()
        self._held: dict[str, tuple[int, int]] = {}  # key -> (thread id, depth)
        self._local = threading.local()
        self._leader_conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._leader_pid: int | None = None
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_renew = 0.0
        self._last_prune = 0.0
        #: Called (no arguments) each time this replica becomes the leader.
        self.on_lead: list[Callable[[], None]] = []
        self._store = store
        store.commit_checks.append(self.fence)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Say this replica runs, try for the leadership once, then check in the background."""
        self._db.run(
            "INSERT INTO replicas (replica, host, pid, started_at, seen_at)"
            " VALUES (%s, %s, %s, now(), now())",
            (self.replica, socket.gethostname(), os.getpid()),
        )
        self.check()
        self._thread = threading.Thread(target=self._run, name="briefbot-replica", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop checking, give back every lease and the leadership."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.check_every + 10)
        with self._guard:
            keys = list(self._held)
            self._held.clear()
        try:
            if keys:
                self._db.run(
                    "UPDATE claims SET leased_by = NULL, lease_until = NULL"
                    " WHERE key = ANY(%s) AND leased_by = %s",
                    (keys, self.replica),
                )
            self._db.run("DELETE FROM replicas WHERE replica = %s", (self.replica,))
        except psycopg.Error as exc:
            log.warning("cannot give back this replica's leases: %s", exc)
        self._lose_leadership()
        if self.fence in self._store.commit_checks:
            self._store.commit_checks.remove(self.fence)

    def _run(self) -> None:
        while not self._stop.wait(self.check_every):
            self.check()
            now = time.monotonic()
            if now - self._last_renew >= self.lease_seconds / 3:
                self._last_renew = now
                self.renew()
            if now - self._last_prune >= _PRUNE_EVERY:
                self._last_prune = now
                self._prune()

    # ------------------------------------------------------------------ claims

    def claim(self, key: str, *, wait: bool = False) -> bool:
        """Lease `key` (re-entrant on this thread); with `wait`, until it is free."""
        me = threading.get_ident()
        while True:
            with self._guard:
                holder = self._held.get(key)
                if holder is not None and holder[0] == me:
                    self._held[key] = (me, holder[1] + 1)
                    return True
                if holder is None and self._take(key):
                    self._held[key] = (me, 1)
                    self._thread_keys().add(key)
                    return True
            if not wait or self._stop.wait(min(1.0, self.lease_seconds / 4)):
                return False

    def _take(self, key: str) -> bool:
        self._db.run("INSERT INTO claims (key) VALUES (%s) ON CONFLICT (key) DO NOTHING", (key,))
        rows = self._db.rows(
            "UPDATE claims SET leased_by = %s,"
            " lease_until = clock_timestamp() + make_interval(secs => %s)"
            " WHERE key IN (SELECT key FROM claims WHERE key = %s"
            "   AND (leased_by IS NULL OR lease_until < clock_timestamp())"
            "   FOR UPDATE SKIP LOCKED)"
            " RETURNING key",
            (self.replica, self.lease_seconds, key),
        )
        return bool(rows)

    def release(self, key: str) -> None:
        with self._guard:
            holder = self._held.get(key)
            if holder is None:
                return
            if holder[1] > 1:
                self._held[key] = (holder[0], holder[1] - 1)
                return
            del self._held[key]
            self._thread_keys().discard(key)
            self._db.run(
                "UPDATE claims SET leased_by = NULL, lease_until = NULL"
                " WHERE key = %s AND leased_by = %s",
                (key, self.replica),
            )

    def renew(self) -> None:
        with self._guard:
            keys = list(self._held)
        if not keys:
            return
        try:
            rows = self._db.rows(
                "UPDATE claims SET lease_until = clock_timestamp() + make_interval(secs => %s)"
                " WHERE key = ANY(%s) AND leased_by = %s RETURNING key",
                (self.lease_seconds, keys, self.replica),
            )
        except psycopg.Error as exc:
            log.warning("cannot renew this replica's leases: %s", exc)
            return
        lost = set(keys) - {str(row[0]) for row in rows}
        if lost:
            # Its work cannot commit any more (fence); it is another replica's now.
            log.warning("leases lost to another replica: %s", ", ".join(sorted(lost)))

    def held(self) -> list[str]:
        """The keys this replica holds now."""
        with self._guard:
            return sorted(self._held)

    def _thread_keys(self) -> set[str]:
        keys: set[str] | None = getattr(self._local, "keys", None)
        if keys is None:
            keys = self._local.keys = set()
        return keys

    # ------------------------------------------------------------------ the leader

    def is_leader(self) -> bool:
        return self._leading.is_set()

    @contextmanager
    def leading(self) -> Iterator[bool]:
        leader = self.is_leader()
        before = getattr(self._local, "leading", False)
        self._local.leading = before or leader
        try:
            yield leader
        finally:
            self._local.leading = before

    def check(self) -> None:
        """Take the leadership if it is free; leading, check the lock's connection still answers."""
        try:
            conn = self._leader_conn
            if conn is None:
                conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
                conn.execute(_KEEPALIVE)
                self._leader_conn = conn
            if self.is_leader():
                conn.execute("SELECT 1")
            else:
                self._try_lead(conn)
            conn.execute(
                "UPDATE replicas SET seen_at = now(), leader = %s WHERE replica = %s",
                (self.is_leader(), self.replica),
            )
        except psycopg.Error as exc:
            if self.is_leader():
                log.warning("leadership lost: its database session failed: %s", exc)
            self._lose_leadership()

    def _try_lead(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
        if not got or not got[0]:
            return
        pid_row = conn.execute("SELECT pg_backend_pid()").fetchone()
        self._leader_pid = int(pid_row[0]) if pid_row else None
        conn.execute(
            "INSERT INTO leadership (replica, backend_pid) VALUES (%s, %s)",
            (self.replica, self._leader_pid),
        )
        self._leading.set()
        log.info("this replica (%s) is the leader now", self.replica)
        for listener in list(self.on_lead):
            try:
                listener()
            except Exception:
                log.exception("a new-leader listener failed")

    def _lose_leadership(self) -> None:
        self._leading.clear()
        self._leader_pid = None
        conn, self._leader_conn = self._leader_conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()  # the session ends: the advisory lock is free

    # ------------------------------------------------------------------ fencing

    def fence(self, tx: PgTransaction) -> None:
        """Inside `tx`, before COMMIT: this thread's leases and leadership still hold."""
        keys = sorted(getattr(self._local, "keys", ()) or ())
        if keys:
            rows = tx.db.rows(
                "SELECT key FROM claims WHERE key = ANY(%s) AND leased_by = %s"
                " AND lease_until > clock_timestamp() FOR UPDATE",
                (keys, self.replica),
            )
            lost = set(keys) - {str(row[0]) for row in rows}
            if lost:
                raise LeaseLost(f"the lease on {', '.join(sorted(lost))} ran out: not committed")
        if getattr(self._local, "leading", False):
            pid = self._leader_pid
            rows = tx.db.rows(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = 0 AND objid = %s::int8::oid AND objsubid = 1 AND pid = %s",
                (LEADER_LOCK, pid),
            )
            if pid is None or not rows:
                raise LeaseLost("this replica is no longer the leader: not committed")

    # ------------------------------------------------------------------ Slack deliveries

    def first_sight(self, key: str) -> bool:
        try:
            rows = self._db.rows(
                "INSERT INTO slack_deliveries (key) VALUES (%s)"
                " ON CONFLICT (key) DO NOTHING RETURNING key",
                (key,),
            )
        except psycopg.Error as exc:  # better handled twice than dropped
            log.warning("cannot check Slack delivery %s against the other replicas: %s", key, exc)
            return True
        return bool(rows)

    def _prune(self) -> None:
        try:
            self._db.run("DELETE FROM slack_deliveries WHERE seen_at < now() - interval '1 day'")
        except psycopg.Error as exc:
            log.warning("cannot prune old Slack delivery keys: %s", exc)
