"""The item extras that record a repeat: `duplicate_of` on the copy, `also_in` on the primary.

Extras contract (written by the pipeline through `store.update_item_extras`):
the duplicate gets `extras["duplicate_of"]` = the primary's seq, read back as
`Item.duplicate_of`; the primary gets `extras["also_in"]`, the list of other
feed ids that carried the story, in arrival order. Alerts skip items with
`duplicate_of`; renderers show `also_in(primary)`.
"""

from __future__ import annotations

from typing import Any, Final

from bot.models import Item

__all__ = ["ALSO_IN", "DUPLICATE_OF", "also_in", "link_extras"]

DUPLICATE_OF: Final = "duplicate_of"
ALSO_IN: Final = "also_in"


def also_in(primary: Item) -> tuple[str, ...]:
    """The other feeds that carried this story, in arrival order, for "also in: ..."."""
    value = primary.extras.get(ALSO_IN)
    if not isinstance(value, list | tuple):
        return ()
    feeds: list[str] = []
    for feed_id in value:
        usable = isinstance(feed_id, str) and feed_id and feed_id != primary.feed_id
        if usable and feed_id not in feeds:
            feeds.append(feed_id)
    return tuple(feeds)


def link_extras(primary: Item, duplicate: Item) -> tuple[dict[str, Any], dict[str, Any]]:
    """The extras updates that record `duplicate` as a repeat of `primary`.

    Returns (update for the primary, update for the duplicate), each to be
    merged into that item's extras (`store.update_item_extras`). The primary's
    update is empty when its `also_in` already names the duplicate's feed, or
    the duplicate comes from the primary's own feed (a re-post).
    """
    duplicate_update: dict[str, Any] = {DUPLICATE_OF: primary.seq}
    feeds = also_in(primary)
    if duplicate.feed_id == primary.feed_id or duplicate.feed_id in feeds:
        return {}, duplicate_update
    return {ALSO_IN: [*feeds, duplicate.feed_id]}, duplicate_update
