"""Which store the bot opens: PostgreSQL when a database URL is set, else the data directory.

`settings.database_url` (feeds.yaml) or BRIEFBOT_DATABASE_URL (the
environment wins) selects `bot.store.postgres`; without one nothing changes:
TinyDB in `data_dir`. The schema is migrated whenever a PostgreSQL store is
opened, so a new release brings its migrations with the first start.

The PostgreSQL modules (and psycopg, about 80 ms) are imported only when a
database URL is set: a data directory's commands never load them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

from bot.models import Settings
from bot.store.ports import Coordination, SingleProcess, Store

if TYPE_CHECKING:
    from bot.ingest.screening.source import SnapshotPlace
    from bot.store.postgres.search import PgSearch
    from bot.store.postgres.store import PgStore

__all__ = [
    "database_search",
    "describe_store",
    "open_coordination",
    "open_store",
    "screening_snapshot_place",
]


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The configured store: to write, or (read_only) to read while `briefbot run` writes."""
    if settings.database_url:
        from bot.store.postgres.store import PgStore

        return PgStore.open(
            settings.database_url, retention_days=settings.retention_days, read_only=read_only
        )
    from bot.store.tinydb.store import TinyStore

    return TinyStore.open(
        settings.data_dir, retention_days=settings.retention_days, read_only=read_only
    )


def describe_store(settings: Settings) -> str:
    """Where the data is, for messages: the database without its password, or the directory."""
    if settings.database_url:
        from bot.store.postgres.url import describe_url

        return f"the database {describe_url(settings.database_url)}"
    return f"the data directory {settings.data_dir}"


def database_search(store: Store, feed_tags: Mapping[str, Iterable[str]]) -> PgSearch | None:
    """Search in the database for a PostgreSQL store, scoped to the configured feeds (those
    `feed_tags` names, again at each `set_feed_tags`); else None."""
    pg = _as_postgres(store)
    if pg is None:
        return None
    from bot.store.postgres.db import Pooled
    from bot.store.postgres.search import PgSearch

    return PgSearch(Pooled(pg.pool), feed_tags=feed_tags, scoped=True)


def open_coordination(
    store: Store, settings: Settings, lease_seconds: float, check_seconds: float
) -> Coordination:
    """How replicas of `briefbot run` agree: through the database, or alone (a data directory)."""
    pg = _as_postgres(store)
    if pg is not None and settings.database_url:
        from bot.store.postgres.coordination import PgCoordination

        return PgCoordination(
            pg, settings.database_url, lease_seconds=lease_seconds, check_every=check_seconds
        )
    return SingleProcess()


def screening_snapshot_place(store: Store) -> SnapshotPlace | None:
    """Where the screening list's snapshot is kept: the database, shared by the replicas,
    for a PostgreSQL store; None for the data directory's file."""
    pg = _as_postgres(store)
    if pg is None:
        return None
    from bot.store.postgres.snapshots import PgSnapshot

    return PgSnapshot(pg, "screening-list")


def _as_postgres(store: Store) -> PgStore | None:
    """`store` if it is the PostgreSQL backend (not loaded: then it cannot be one)."""
    module = sys.modules.get("bot.store.postgres.store")
    if module is not None and isinstance(store, module.PgStore):
        return cast("PgStore", store)
    return None
