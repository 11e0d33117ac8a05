"""Which search index a runtime uses, telling it about pruned items, and `briefbot search`
answered from the index file alone.

On PostgreSQL the database searches (`PgSearch`, chosen in `storage`). Over a
data directory it is the SQLite FTS5 index kept in the directory
(`bot.store.searchdb`): nothing is rebuilt at start-up, the index catches up
with the store in the background (everything the first time, 1-2 minutes at
100,000 items on the 2-core benchmark machine; later only what was stored
since). Where no file can be kept there (a read-only directory, a file
SQLite cannot open) or no directory was given (a runtime made on a store
alone), the same index is built from the store into a private temporary
file (`temporary_search`), logged with the reason, removed when the index is
collected or the process exits: the one engine everywhere, only not kept.
Every engine is a `SearchEngine` (`bot.find.search.engine`): the runtime
calls its methods, a no-op where the engine has nothing to do.

`quick_search`: opening the store reads every shard (0.7 s and more at
100,000 items), which `briefbot search` need not pay when the index file is
level with the store's files: the file records the stamp of the item shard
files it was last brought level with (`bot.store.tinydb.peek.items_stamp`,
taken before the store was opened), and while the shards keep that stamp the
file alone answers, hits included. Any commit that touched items changes the
stamp: that search then opens the store, catches the index up, forgets pruned
items and records the new stamp (`level_search`). The writing process records
it too after each poll once its index is open (`level_after_poll`), inside an
empty transaction: the store's write lock held, no commit can land between
the stamp and the catch-up, so the next `briefbot search` stays quick.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.model import Config
from bot.config.overrides import effective_config
from bot.find.query.matcher import Query
from bot.store.ports import Store, StoreError

if TYPE_CHECKING:
    from bot.find.search.engine import SearchEngine
    from bot.find.search.results import SearchResults
    from bot.store.searchdb.index import FtsIndex

__all__ = [
    "level_after_poll",
    "level_search",
    "open_search",
    "quick_search",
    "search_query",
    "temporary_search",
]

log = logging.getLogger(__name__)


def open_search(
    store: Store, data_dir: str | None, feed_tags: Mapping[str, tuple[str, ...]]
) -> tuple[FtsIndex, bool]:
    """The search index over `store`, catching up in the background (module docstring);
    whether it is the file kept in `data_dir` (else a temporary one)."""
    from bot.store.searchdb.index import FtsIndex

    if data_dir is None:
        why = "no data directory to keep it in"
        return temporary_search(store, feed_tags, why, level=logging.INFO), False
    try:
        index = FtsIndex(data_dir, feed_tags=feed_tags, items=store.items)
    except (sqlite3.Error, OSError) as error:
        why = f"{data_dir} cannot keep its file ({error})"
        return temporary_search(store, feed_tags, why), False
    index.catch_up_in_background()
    return index, True


def temporary_search(
    store: Store,
    feed_tags: Mapping[str, tuple[str, ...]],
    why: str,
    *,
    level: int = logging.WARNING,
) -> FtsIndex:
    """The index built from `store` into a private temporary directory, removed when the
    index is collected or at exit; the log says `why` and where (a warning: the operator's
    directory cannot keep it; info: a runtime made on a store alone, as tests make)."""
    from bot.store.searchdb.index import FtsIndex

    directory = tempfile.mkdtemp(prefix="briefbot-search-")
    log.log(
        level,
        "search index: %s; indexing the stored items into the temporary %s"
        " (not kept: the next process indexes them again)",
        why,
        directory,
    )
    try:
        index = FtsIndex(directory, feed_tags=feed_tags, items=store.items)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    weakref.finalize(index, shutil.rmtree, directory, ignore_errors=True)
    index.catch_up_in_background()
    return index


def search_query(text: str, feeds: Collection[str] | None, known: Collection[str]) -> Query:
    """The query a user typed, limited to `feeds` (None: all); QueryError for a `feed:`
    naming none of the `known` feeds (or of `feeds`), since a typo would match nothing."""
    from bot.find.query.question import parse_question
    from bot.find.query.syntax import QueryError

    query = parse_question(text).within_feeds(feeds)
    allowed = set(feeds) if feeds is not None else set(known)
    unknown = sorted(query.feeds_named() - allowed)
    if unknown:
        named = ", ".join(f"feed:{feed_id}" for feed_id in unknown)
        raise QueryError(f"{named}: no such feed; the feeds are {', '.join(sorted(allowed))}")
    return query


def data_stamp(config: Config) -> str | None:
    """The stamp of a data directory's item files (None on PostgreSQL or without a file)."""
    settings = config.settings
    if settings.database_url:
        return None
    from bot.store.searchdb.schema import FILE_NAME
    from bot.store.tinydb.peek import items_stamp

    data = Path(settings.data_dir)
    return items_stamp(data) if (data / FILE_NAME).exists() or data.is_dir() else None


def quick_search(
    config: Config, text: str, *, limit: int, now: datetime, stamp: str | None
) -> tuple[SearchResults, dict[str, str]] | None:
    """`briefbot search` from the index file alone, with the feeds' names; None when the
    file is not level with the store's files `stamp` names (module docstring)."""
    from bot.store.searchdb.index import FtsIndex
    from bot.store.searchdb.schema import FILE_NAME
    from bot.store.tinydb.peek import read_overrides

    data = Path(config.settings.data_dir)
    if stamp is None or not (data / FILE_NAME).exists():
        return None
    try:
        index = FtsIndex(data)
    except sqlite3.Error:
        return None
    try:
        if index.level_stamp() != stamp:
            return None
        effective = effective_config(config, read_overrides(data))
        index.set_feed_tags({feed.id: feed.tags for feed in effective.feeds})
        query = search_query(text, None, {feed.id for feed in effective.feeds})
        results = index.search(query, now=now, limit=limit)
        return results, {feed.id: feed.display_name for feed in effective.feeds}
    except sqlite3.Error as error:
        log.warning("search index: %s; searching through the store", error)
        return None
    finally:
        index.close()


def level_search(index: SearchEngine, results: SearchResults, stamp: str | None) -> None:
    """After a search through the store: record that the persisted index is level with the
    files `stamp` named before the store was opened (caught up, pruned items forgotten);
    `stamp` is None on PostgreSQL and in a read-only directory (`data_stamp`)."""
    if stamp is None or not results.complete:
        return
    try:
        index.forget_pruned()
        index.record_level(stamp)
    except sqlite3.Error as error:
        log.warning("search index: not recorded as level with the store: %s", error)


def level_after_poll(store: Store, index: SearchEngine, data_dir: str | None) -> None:
    """In the writing process, after a poll's catch-up: record the index kept in
    `data_dir` (None: none is) level with the item files, under the store's write lock
    (module docstring). Skipped while a catch-up runs elsewhere or pruned items wait to
    be forgotten (the next poll records)."""
    if data_dir is None or store.read_only:
        return
    from bot.store.tinydb.peek import items_stamp

    try:
        with store.transaction():  # writes nothing: it holds the lock
            stamp = items_stamp(data_dir)
            if index.catch_up(timeout=0) and len(index) == store.items.count():
                index.record_level(stamp)
    except (sqlite3.Error, OSError, StoreError) as error:  # a poll's finally: never raise
        log.warning("search index: not recorded as level with the store: %s", error)
