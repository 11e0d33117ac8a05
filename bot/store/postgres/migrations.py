"""The schema, made and kept current by numbered SQL files (`sql/NNNN_name.sql`), each run once.

`migrate(conn)` runs, in order, every file whose number is not yet in
`schema_migrations`, each in its own transaction with its row, under an
advisory lock: two processes starting at once (two replicas, `briefbot
migrate` beside `briefbot run`) apply each file once, the second waiting for
the first. A database with a version newer than any file here was migrated by
a newer briefbot: refused, so an old release never writes a schema it does not
know. Files are never edited once released; a change is a new file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from bot.store.ports import StoreError

__all__ = ["Migration", "applied_versions", "available", "migrate"]

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any fixed number: the key of the advisory lock migrations run under.
_LOCK_KEY = 0x62726266  # "brbf"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with this release, by version."""
    found = []
    for entry in resources.files("bot.store.postgres").joinpath("sql").iterdir():
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda migration: migration.version)
    return found


def applied_versions(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [int(str(row[0])) for row in rows]


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[Migration]:
    """Apply the migrations `conn`'s database lacks; return those applied (an autocommit conn)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = set(applied_versions(conn))
        shipped = available()
        newest = max((m.version for m in shipped), default=0)
        if done and max(done) > newest:
            raise StoreError(
                f"the database's schema is version {max(done)}, newer than this briefbot "
                f"knows ({newest}): upgrade briefbot"
            )
        applied = []
        for migration in shipped:
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied.append(migration)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
