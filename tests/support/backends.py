"""The store backend a service test runs on: the same test body on TinyDB and on PostgreSQL.

A test (or a fixture) that asks for `backend` (tests/conftest.py) runs twice,
as `[tinydb]` and `[postgres]`. On TinyDB the store is the data directory of
the test's configuration, as before; on PostgreSQL `backend.url` is a fresh,
empty database of the test server (tests/support/postgres.py) and the bot is
pointed at it the way an operator does it: BRIEFBOT_DATABASE_URL in the
environment the configuration is read with (`backend.env()`), or in a child
process's environment. The data directory stays in the configuration either
way (the screening snapshot lives there on both backends).

Secrets must never be stored: the leak detector reads the files under
tmp_path, and `fresh_backend` reads every table of the test's database.

A `[postgres]` test that never opened its database (its configuration was
built without `backend.env()`, say) would pass while testing TinyDB only: the
fixture fails it at teardown (`Backend.check_used`).

Tests that are about the data directory itself (file permissions, its lock,
a write that fails or is killed halfway through a TinyDB commit, the story
cache file) do not ask for `backend` and say so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.model import Config
from tests.support.postgres import PostgresServer

if TYPE_CHECKING:
    from bot.store.postgres.store import PgStore
    from bot.store.tinydb.store import TinyStore

__all__ = ["BACKENDS", "Backend", "BackendKind", "fresh_backend", "stored_text"]

BACKENDS = ("tinydb", "postgres")
# What the session-scoped `backend_kind` fixture gives: the name, and the server on PostgreSQL.
BackendKind = tuple[str, PostgresServer | None]


@dataclass(frozen=True)
class Backend:
    """Which store a test's bot uses; `url` is its own database on PostgreSQL, else None."""

    name: str
    url: str | None = None

    @property
    def postgres(self) -> bool:
        return self.url is not None

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (an environment) with BRIEFBOT_DATABASE_URL set on PostgreSQL."""
        env = dict(base or {})
        env.pop("BRIEFBOT_DATABASE_URL", None)
        if self.url is not None:
            env["BRIEFBOT_DATABASE_URL"] = self.url
        return env

    def configure(self, config: Config) -> Config:
        """`config` on this backend (as BRIEFBOT_DATABASE_URL would set it)."""
        return replace(config, settings=replace(config.settings, database_url=self.url))

    def open(
        self, data_dir: str | Path, *, retention_days: int = 180, read_only: bool = False
    ) -> TinyStore | PgStore:
        """The store the bot would open: the test's database, or the data directory."""
        if self.url is not None:
            from bot.store.postgres.store import PgStore

            return PgStore.open(self.url, retention_days=retention_days, read_only=read_only)
        from bot.store.tinydb.store import TinyStore

        return TinyStore.open(data_dir, retention_days=retention_days, read_only=read_only)

    def check_used(self) -> str | None:
        """Why this `[postgres]` test did not test PostgreSQL, if it did not (else None)."""
        if self.url is None:
            return None
        import psycopg

        with psycopg.connect(self.url, connect_timeout=10) as conn:
            row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if row and row[0]:
            return None
        return (
            "this [postgres] test never opened its database: build its configuration "
            "with backend.env() / backend.configure(), or its store with backend.open()"
        )


@contextmanager
def fresh_backend(
    kind: BackendKind, *, copy_of: Backend | None = None, scan_secrets: bool = True
) -> Iterator[Backend]:
    """A Backend of `kind` with a database of its own (empty, or a copy of `copy_of`'s).

    At the end its tables are searched for the test secrets, unless `scan_secrets` is
    False: for a test that stores one on purpose (what an older version left).
    """
    name, server = kind
    if server is None:
        yield Backend(name)
        return
    url = server.copy(copy_of.url) if copy_of is not None and copy_of.url else server.database()
    try:
        yield Backend(name, url)
        if not scan_secrets:
            return
        from tests.support.secretscan import find_leaks  # a plugin: imported by pytest first

        leaks = [
            leak.describe() for leak in find_leaks("the database", stored_text(url), shapes=False)
        ]
        assert not leaks, f"a secret is stored in the database: {leaks}"
    finally:
        server.release(url)


def stored_text(url: str) -> str:
    """Every row of every table of the database at `url`, as text (what the bot stored).

    The secret-leak detector scans the files under a test's tmp_path; on
    PostgreSQL the stored state is here, so `fresh_backend` scans it too.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=10) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
        texts = []
        for (table,) in tables:
            query = sql.SQL("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {} t")
            row = conn.execute(query.format(sql.Identifier(table))).fetchone()
            texts.append(f"{table}:\n{row[0] if row else ''}")
    return "\n".join(texts)
