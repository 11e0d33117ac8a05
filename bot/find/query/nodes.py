"""The syntax tree of a parsed query: one frozen dataclass per kind of node.

Each node prints in the normalized form the tests compare (`str(query.root)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeAlias

__all__ = [
    "And",
    "Chars",
    "FeedIs",
    "Leaf",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Prefix",
    "TagIs",
    "TimeBound",
    "Word",
    "aware",
]


def aware(moment: datetime) -> datetime:
    """`moment` with a time zone: its own, or UTC when it is naive (its zone is kept)."""
    # Feeds and callers give UTC; a naive time is taken to be UTC rather than local.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Word:
    """One analyzed token (stemmed), present anywhere in title or summary."""

    token: str

    def __str__(self) -> str:
        return f"word:{self.token}"


@dataclass(frozen=True, slots=True)
class Chars:
    """A single CJK character, matched as a substring of the folded text."""

    text: str

    def __str__(self) -> str:
        return f"chars:{self.text}"


@dataclass(frozen=True, slots=True)
class Phrase:
    """Analyzed tokens at consecutive positions."""

    tokens: tuple[str, ...]

    def __str__(self) -> str:
        return f'phrase:"{" ".join(self.tokens)}"'


@dataclass(frozen=True, slots=True)
class Prefix:
    """A trailing wildcard: `head` tokens (stemmed and raw), then a token starting with `prefix`."""

    head: tuple[str, ...]
    raw_head: tuple[str, ...]
    prefix: str

    def __str__(self) -> str:
        if self.head:
            return f'prefix:"{" ".join(self.head)} {self.prefix}*"'
        return f"prefix:{self.prefix}*"


@dataclass(frozen=True, slots=True)
class FeedIs:
    """`feed:ID`: the item's feed id, compared exactly."""

    feed_id: str

    def __str__(self) -> str:
        return f"feed:{self.feed_id}"


@dataclass(frozen=True, slots=True)
class TagIs:
    """`tag:NAME`: one of the item's tags, folded like text."""

    tag: str

    def __str__(self) -> str:
        return f"tag:{self.tag}"


@dataclass(frozen=True, slots=True)
class TimeBound:
    """`since:` (item time >= bound) or `before:` (item time < bound).

    Either relative (`amount` of `unit`, one of "h", "d", "w", before `now`) or
    a calendar `day`.
    """

    field: str
    amount: int = 0
    unit: str = ""
    day: date | None = None

    def __str__(self) -> str:
        value = self.day.isoformat() if self.day is not None else f"{self.amount}{self.unit}"
        return f"{self.field}:{value}"

    def resolve(self, now: datetime) -> datetime:
        """Return the instant this bound stands for, seen from `now`."""
        now = aware(now)
        if self.day is not None:
            return datetime.combine(self.day, time(0), tzinfo=now.tzinfo)
        hours = self.amount * {"h": 1, "d": 24, "w": 24 * 7}[self.unit]
        return now - timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class Not:
    """Matches what its child does not."""

    child: Node

    def __str__(self) -> str:
        return f"NOT({self.child})"


@dataclass(frozen=True, slots=True)
class And:
    """Matches when every child does."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return f"AND({', '.join(str(child) for child in self.children)})"


@dataclass(frozen=True, slots=True)
class Or:
    """Matches when any child does."""

    children: tuple[Node, ...]

    def __str__(self) -> str:
        return f"OR({', '.join(str(child) for child in self.children)})"


Node: TypeAlias = Word | Chars | Phrase | Prefix | FeedIs | TagIs | TimeBound | Not | And | Or
Leaf: TypeAlias = Word | Chars | Phrase | Prefix
