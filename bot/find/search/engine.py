"""`SearchEngine`: what the runtime asks of a search engine, whichever backs it.

Two engines implement it: the SQLite FTS5 index over a data directory
(`bot.store.searchdb.FtsIndex`, a file kept between processes, or a private
temporary one where the directory cannot hold it) and the database's own
search on PostgreSQL (`bot.store.postgres.search.PgSearch`). The runtime
calls every method on either: where an engine has nothing to do (PostgreSQL
has no index to catch up, to close or to mark level with the files) the
method does nothing and says so in its return value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from bot.find.query.matcher import Query
from bot.find.search.results import SearchResults

__all__ = ["SearchEngine"]


class SearchEngine(Protocol):
    """A ranked search over the stored items, following the store (module docstring)."""

    def search(
        self, query: Query, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        """The best `limit` stories matching `query` after the first `offset`; an index
        that follows the store catches up first, waiting up to `wait` seconds."""
        ...

    def search_text(
        self, text: str, *, now: datetime, limit: int = 10, offset: int = 0, wait: float = 10.0
    ) -> SearchResults:
        """`search` of a line a user typed (query syntax or plain words); QueryError."""
        ...

    def matching(
        self, query: Query, seqs: Iterable[int], *, now: datetime, wait: float = 10.0
    ) -> set[int] | None:
        """The seqs among `seqs` whose items match `query`, exactly; None: the caller
        checks each item itself (an index still catching up, or no faster way)."""
        ...

    def set_feed_tags(self, feed_tags: Mapping[str, Iterable[str]]) -> None:
        """The configured feeds and their tags (`tag:` filters; on PostgreSQL also the
        feeds searched), again after each configuration change."""
        ...

    def catch_up(self, *, timeout: float = -1) -> bool:
        """Index what the store holds beyond the index, waiting up to `timeout` for a
        catch-up running elsewhere; whether the index is now level (True: no index)."""
        ...

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the start-up catch-up; whether it ended (True: nothing to wait for)."""
        ...

    def forget_pruned(self) -> int:
        """After a prune: drop the items the store no longer holds; how many (0: none kept)."""
        ...

    def record_level(self, stamp: str) -> None:
        """Record that the index holds the store's items as of the item files `stamp`
        names (`bot.app.searchindex`: `briefbot search` then reads the file alone)."""
        ...

    def close(self) -> None:
        """Release the index's connections (nothing held: nothing to do)."""
        ...

    def __len__(self) -> int:
        """How many items the engine searches."""
        ...
