"""What the renderer is given besides `bot.models`: search hits, feed rows, a Home tab's data.

Typed inputs of `bot.render.renderer` (the app layer builds them), and the one
rule of the "Show all N" button's command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.models import FeedState, Item, Subscription

__all__ = [
    "SHOW_ALL_MAX",
    "FeedStatusRow",
    "HomeData",
    "HomeDeadline",
    "SearchHitLike",
    "show_all_command",
]

SHOW_ALL_MAX = 50  # what `/brief latest` shows at most


def show_all_command(hint: object, count: object) -> str:
    """The `/brief` line (without `/brief`) a "Show all N" button runs: `hint` for N items.

    "/brief latest chips", 23 -> "latest chips 23"; a count already in the
    hint is replaced; at most SHOW_ALL_MAX.
    """
    words = str(hint).removeprefix("/brief").split()
    if words and words[-1].isdigit():
        words.pop()
    number = count if isinstance(count, int) else 0
    return " ".join([*words, str(min(max(number, 1), SHOW_ALL_MAX))])


class SearchHitLike(Protocol):
    """What `render_search` needs of a search hit (search.py's hits have these)."""

    @property
    def item(self) -> Item: ...

    @property
    def snippet(self) -> str: ...

    @property
    def spans(self) -> Sequence[tuple[int, int]]: ...

    @property
    def also_in(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class FeedStatusRow:
    """One feed for `/brief feeds`: its config and what the bot remembers about it."""

    feed_id: str
    name: str
    enabled: bool
    state: FeedState | None = None
    # The screening list's row: how many entries its snapshot holds (None: not a snapshot).
    snapshot_entries: int | None = None


@dataclass(frozen=True, slots=True)
class HomeDeadline:
    """One upcoming date on the Home tab: comments close, or a rule takes effect."""

    on: date
    kind: str  # "comments close" or "effective"
    item: Item
    citation: str = ""


@dataclass(frozen=True, slots=True)
class HomeData:
    """What one person's Home tab shows (bot/app/surfaces/home.py gathers it).

    `subscriptions` pairs each with how it is delivered, in words; everyone
    sees the feeds counted, admins also which are failing and why.
    """

    subscriptions: Sequence[tuple[Subscription, str]]
    more_subscriptions: int
    items: Sequence[Item]
    deadlines: Sequence[HomeDeadline]
    feeds: Sequence[FeedStatusRow]
    is_admin: bool = False
    notice: str = ""
    period: str = "the last 7 days"
