"""How the repositories reach the database: a pooled connection per call, or a transaction's own.

`Pooled` borrows a connection from the pool for each statement (autocommit:
each read sees what is committed at that moment); `InTransaction` runs on
the one connection of a unit of work, so its reads see its own writes.
Both answer `rows(sql, params)` and `run(sql, params)`; `writable` says
whether writes are allowed (they belong in a transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool

__all__ = ["Db", "InTransaction", "Pooled", "Statement"]

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
        with self._pool.connection() as conn:
            found: list[tuple[Any, ...]] = conn.execute(_query(statement), params).fetchall()
            return found

    def run(self, statement: Statement, params: Sequence[Any] = ()) -> int:
        with self._pool.connection() as conn:
            count: int = conn.execute(_query(statement), params).rowcount
            return count

    def run_many(self, statement: Statement, params: Sequence[Sequence[Any]]) -> None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(_query(statement), params)


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
