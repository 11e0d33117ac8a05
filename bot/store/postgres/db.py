"""How the repositories reach the database: a pooled connection per call, or a transaction's own.

`Pooled` borrows a connection from the pool for each statement (autocommit:
each read sees what is committed at that moment); `InTransaction` runs on
the one connection of a unit of work, so its reads see its own writes.
Both answer `rows(sql, params)` and `run(sql, params)`; `writable` says
whether writes are allowed (they belong in a transaction).

Not obvious: a read outside a unit of work (`Pooled`) meets a database
outage too (a connection cut, the pool unable to reconnect in time); it ends
as a `StoreError` naming the server, never the password, as a failed unit of
work does (bot/store/postgres/store.py), so every caller handles one error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

from bot.store.ports import StoreError
from bot.store.postgres.url import describe_url

__all__ = ["Db", "InTransaction", "Pooled", "Statement", "reason"]

#: SQL text; values always go in parameters, never into the text.
Statement = str


class Db(Protocol):
    writable: bool

    def rows(self, statement: Statement, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def run(self, statement: Statement, params: Sequence[Any] = ()) -> int: ...

    def run_many(self, statement: Statement, params: Sequence[Sequence[Any]]) -> None: ...


def _query(statement: Statement) -> bytes:
    # Built from constants here, so not a LiteralString to the type checker: as bytes.
    return statement.encode()


class Pooled:
    """Committed state: one pooled autocommit connection per statement."""

    writable = False

    def __init__(self, pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]]) -> None:
        self._pool = pool

    def rows(self, statement: Statement, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            found: list[tuple[Any, ...]] = conn.execute(_query(statement), params).fetchall()
            return found

    def run(self, statement: Statement, params: Sequence[Any] = ()) -> int:
        with self._connection() as conn:
            count: int = conn.execute(_query(statement), params).rowcount
            return count

    def run_many(self, statement: Statement, params: Sequence[Sequence[Any]]) -> None:
        with self._connection() as conn, conn.cursor() as cur:
            cur.executemany(_query(statement), params)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:  # psycopg_pool's PoolTimeout is one too
            conninfo = self._pool.conninfo
            where = describe_url(conninfo if isinstance(conninfo, str) else conninfo())
            raise StoreError(f"the database {where}: {reason(exc)}") from exc


class InTransaction:
    """A unit of work's connection (inside `conn.transaction()`)."""

    writable = True

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.conn = conn

    def rows(self, statement: Statement, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = self.conn.execute(_query(statement), params).fetchall()
        return found

    def run(self, statement: Statement, params: Sequence[Any] = ()) -> int:
        count: int = self.conn.execute(_query(statement), params).rowcount
        return count

    def run_many(self, statement: Statement, params: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_query(statement), params)


def reason(exc: psycopg.Error) -> str:
    """A database error as a sentence without connection details."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        return str(primary)
    # Connection failures carry no diagnostics: their text (host, port, cause; never
    # the password) says what went wrong.
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
