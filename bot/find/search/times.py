"""Times as the search indexes keep them: microseconds since the epoch.

The SQLite FTS5 index (`bot.store.searchdb`) stores every date this way, for
the recency boost and the `since:`/`before:` filters.
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
