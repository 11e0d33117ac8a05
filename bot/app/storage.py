"""Which store the bot opens: PostgreSQL when a database URL is set, else the data directory.

`settings.database_url` (feeds.yaml) or BRIEFBOT_DATABASE_URL (the
environment wins) selects `bot.store.postgres`; without one nothing changes:
TinyDB in `data_dir`. The schema is migrated whenever a PostgreSQL store is
opened, so a new release brings its migrations with the first start.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from bot.models import Settings
from bot.store.ports import Coordination, SingleProcess, Store
from bot.store.postgres.coordination import PgCoordination
from bot.store.postgres.db import Pooled
from bot.store.postgres.search import PgSearch
from bot.store.postgres.store import PgStore
from bot.store.postgres.url import describe_url
from bot.store.tinydb.store import TinyStore

__all__ = ["database_search", "describe_store", "open_coordination", "open_store"]


def open_store(settings: Settings, *, read_only: bool = False) -> Store:
    """The configured store: to write, or (read_only) to read while `briefbot run` writes."""
    if settings.database_url:
        return PgStore.open(
            settings.database_url, retention_days=settings.retention_days, read_only=read_only
        )
    return TinyStore.open(
        settings.data_dir, retention_days=settings.retention_days, read_only=read_only
    )


def describe_store(settings: Settings) -> str:
    """Where the data is, for messages: the database without its password, or the directory."""
    if settings.database_url:
        return f"the database {describe_url(settings.database_url)}"
    return f"the data directory {settings.data_dir}"


def database_search(
    store: Store, feed_tags: Mapping[str, Iterable[str]], scope: Collection[str]
) -> PgSearch | None:
    """Search in the database for a PostgreSQL store (scoped to `scope`'s feeds); else None."""
    if isinstance(store, PgStore):
        return PgSearch(Pooled(store.pool), feed_tags=feed_tags, scope=scope)
    return None


def open_coordination(
    store: Store, settings: Settings, lease_seconds: float, check_seconds: float
) -> Coordination:
    """How replicas of `briefbot run` agree: through the database, or alone (a data directory)."""
    if isinstance(store, PgStore) and settings.database_url:
        return PgCoordination(
            store, settings.database_url, lease_seconds=lease_seconds, check_every=check_seconds
        )
    return SingleProcess()
