"""Times as the search indexes keep them: microseconds since the epoch.

The module keeps the name of the in-memory index's arrays it came from
(deleted: the SQLite FTS5 index of `bot.store.searchdb` is the one engine
over a data directory), since that index's modules import `micros` from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.find.query.nodes import aware

__all__ = ["micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """`moment` in microseconds since the epoch, as the index keeps times."""
    return (aware(moment) - _EPOCH) // _MICROSECOND
