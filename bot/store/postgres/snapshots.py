"""`PgSnapshot`: a named document kept whole in the `snapshots` table, shared by the replicas.

The screening list's snapshot lives here on PostgreSQL (a file in the data
directory would be one replica's: another on another machine would take its
next download for a first one). `stamp` reads only the row's `version`, so a
reader checks for a change without fetching the body; `write` replaces the
body and raises the version, outside any transaction (as the file is
replaced after the commit that stored the changes: see
bot/ingest/screening/source.py for why that order is safe).
"""

from __future__ import annotations

from bot.store.postgres.db import Pooled
from bot.store.postgres.store import PgStore

__all__ = ["PgSnapshot"]


class PgSnapshot:
    """One row of `snapshots` (a `bot.ingest.screening.source.SnapshotPlace`)."""

    def __init__(self, store: PgStore, name: str) -> None:
        self._db = Pooled(store.pool)
        self.name = name

    def stamp(self) -> object | None:
        rows = self._db.rows("SELECT version FROM snapshots WHERE name = %s", (self.name,))
        return int(rows[0][0]) if rows else None

    def read(self) -> bytes | None:
        rows = self._db.rows("SELECT body FROM snapshots WHERE name = %s", (self.name,))
        return bytes(rows[0][0]) if rows else None

    def write(self, data: bytes) -> None:
        self._db.run(
            "INSERT INTO snapshots (name, version, body) VALUES (%s, 1, %s)"
            " ON CONFLICT (name) DO UPDATE SET version = snapshots.version + 1,"
            " saved_at = now(), body = EXCLUDED.body",
            (self.name, data),
        )
