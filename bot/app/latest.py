"""The newest stories in the store, for `/brief latest`, `briefbot latest` and "Show all"."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.models import Item
from bot.store.ports import ItemReader

__all__ = ["newest_stories"]


def newest_stories(
    items: ItemReader,
    *,
    feed_ids: Iterable[str] | None = None,
    limit: int = 10,
    keep: Callable[[Item], bool] | None = None,
    scan: int,
) -> list[Item]:
    """The newest stories (duplicates folded), newest first; `keep` filters.

    Backlog items (a feed's first poll) are included: on day one they are
    all there is to read; templates mark them.

    Walks the store backwards by seq (the order items were first seen) in
    chunks of 500, so the cost follows `limit`, not the size of the store;
    at most the newest `scan` items.
    """
    wanted = set(feed_ids) if feed_ids is not None else None
    found: list[Item] = []
    for scanned, item in enumerate(items.newest_first(scan), 1):
        if (
            item.duplicate_of is None
            and (wanted is None or item.feed_id in wanted)
            and (keep is None or keep(item))
        ):
            found.append(item)
        if scanned % 500 == 0 and len(found) >= limit:
            break
    found.sort(key=lambda i: i.when, reverse=True)
    return found[:limit]
