"""Coordination between replicas: leased claims on work, one leader, Slack deliveries seen once.

Several `briefbot run` processes may share one store (PostgreSQL). What each
may do alone is decided here, behind one small port, so the app layer never
asks which backend it runs on:

- **claims**: a named piece of work ("poll:fr", "digest:C123", "alerts:U456")
  is leased to one replica (`claim`), renewed while it works and released
  when it is done (`release`). A replica that dies loses its leases when
  they expire; the next claimer takes over and finishes what the dead one
  left in flight (the delivery ledgers). Claims are re-entrant in a process.
- **the leader**: the serial work (story linking, matching and the match
  cursor, retention, feed-health notices, enrichment, reminders) runs only
  where `is_leader()`; `leading()` marks the calling thread as doing it.
- **fencing**: a store transaction committed by a thread that holds claims or
  is leading checks, inside that transaction, that the leases and the
  leadership are still this replica's; if not, it raises `LeaseLost` and the
  transaction rolls back (a replica stalled past its lease never overwrites
  the work of the one that took over).
- **Slack deliveries**: `first_sight(key)` is True once per event id or
  trigger id across all replicas (Slack's retries may reach any of them).

`SingleProcess` is the coordination of a store only one process writes
(TinyDB's data directory, one CLI command): every claim is granted, this
process leads, nothing needs fencing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from bot.store.ports.records import StoreError

__all__ = ["Coordination", "LeaseLost", "SingleProcess"]


class LeaseLost(StoreError):
    """A claim or the leadership was lost before the work's transaction committed."""


class Coordination(Protocol):
    """What replicas agree on (see the module docstring)."""

    #: This replica's name in claims and in the leadership record ("host:pid:...").
    replica: str

    def claim(self, key: str, *, wait: bool = False) -> bool:
        """Lease `key` to this replica; False when another holds it (and not `wait`)."""
        ...

    def release(self, key: str) -> None:
        """Give up a lease taken by `claim` (the last of its re-entrant holds)."""
        ...

    def renew(self) -> None:
        """Extend every lease this replica holds (a background thread calls it)."""
        ...

    def is_leader(self) -> bool:
        """Whether this replica runs the serial work now."""
        ...

    def leading(self) -> AbstractContextManager[bool]:
        """`with coordination.leading() as leader:`: marks the thread as leading if it is."""
        ...

    def first_sight(self, key: str) -> bool:
        """True the first time any replica asks about `key` (a Slack event id or trigger id)."""
        ...

    def close(self) -> None:
        """Release every lease and the leadership."""
        ...


class SingleProcess:
    """The coordination of a store written by one process: it always leads, claims always hold."""

    replica = "local"

    def claim(self, key: str, *, wait: bool = False) -> bool:
        return True

    def release(self, key: str) -> None:
        return None

    def renew(self) -> None:
        return None

    def is_leader(self) -> bool:
        return True

    @contextmanager
    def leading(self) -> Iterator[bool]:
        yield True

    def first_sight(self, key: str) -> bool:
        # The Slack app keeps its own memory of recent deliveries; one process needs no more.
        return True

    def close(self) -> None:
        return None
