"""Watchlists: names someone asked to be told about (`/brief watch`), one record each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["Watch", "WatchReader", "Watches"]


@dataclass(frozen=True, slots=True)
class Watch:
    """A watched name. `owner` is a user id (alerts by DM) or a channel id.

    `aliases` are other names of the same party found on the screening list when
    the watch was made; they are matched like the name.
    """

    id: str
    owner: str
    name: str
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...] = ()
    team_id: str = ""  # the workspace ("" with one workspace)
    enterprise_id: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def label(self) -> str:
        return f"watch {self.name}"


class WatchReader(Protocol):
    def get(self, watch_id: str) -> Watch | None: ...

    def list(self, owner: str | None = None) -> list[Watch]:
        """Every readable watch (of `owner`), oldest first; damaged ones skipped."""
        ...

    def ids(self) -> set[str]:
        """Every id in use, damaged records included."""
        ...


class Watches(WatchReader, Protocol):
    def put(self, watch: Watch) -> None: ...

    def delete(self, watch_id: str) -> bool: ...
