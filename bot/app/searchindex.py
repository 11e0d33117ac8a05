"""Which search index a runtime uses, and telling it about pruned items.

On PostgreSQL the database searches (`PgSearch`, chosen in `storage`). Over a
data directory it is the SQLite FTS5 index kept in the directory
(`bot.store.searchdb`): nothing is rebuilt at start-up, the index catches up
with the store in the background (everything the first time, 20-40 s at
100,000 items on the benchmark machine; later only what was stored since).
Where that file cannot be opened (no data directory, a read-only one), the
in-memory index of `bot.find.search` is built instead, as before.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.store.ports import Store

if TYPE_CHECKING:
    from bot.find.search.index import SearchIndex
    from bot.store.searchdb.index import FtsIndex

__all__ = ["forget_pruned", "open_search"]

log = logging.getLogger(__name__)


def open_search(
    store: Store, data_dir: str | None, feed_tags: Mapping[str, tuple[str, ...]]
) -> SearchIndex | FtsIndex:
    """The search index over `store`, catching up in the background (module docstring)."""
    if data_dir is not None:
        from bot.store.searchdb.index import FtsIndex

        try:
            index = FtsIndex(data_dir, feed_tags=feed_tags, items=store.items)
        except (sqlite3.Error, OSError) as error:
            log.warning("search index: %s unusable (%s); indexing in memory", data_dir, error)
        else:
            index.catch_up_in_background()
            return index
    from bot.find.search.index import SearchIndex

    memory = SearchIndex(
        feed_tags=feed_tags, load_items=store.items.by_seq, load_after=store.items.after
    )
    memory.catch_up_in_background()
    return memory


def forget_pruned(index: object) -> int:
    """After a prune: drop the pruned items from a persisted index (the others need nothing)."""
    forget = getattr(index, "forget_pruned", None)
    return int(forget()) if forget is not None else 0
