"""One lock per destination, so that a slow Slack holds up only the channel it is slow for.

A delivery holds its destination's lock from the moment it decides what to
post until its bookkeeping is committed; another delivery to the same place
waits, one elsewhere does not, and nothing that `/brief`, searches or polls
need is held meanwhile.

With several replicas on one database the destination is also claimed
across them (`bot.store.ports.Coordination`: a lease, renewed while held):
`hold` waits for a replica delivering there to finish, or with
`wait=False` yields False at once and the caller skips it. One process
alone (`SingleProcess`) gets every claim.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bot.store.ports import Coordination, LeaseLost, SingleProcess

__all__ = ["DestinationLocks"]


class DestinationLocks:
    """Re-entrant locks by destination name ("digest:C123", "alerts:U456", ...)."""

    def __init__(self, coordination: Coordination | None = None) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self.coordination: Coordination = coordination or SingleProcess()

    @contextmanager
    def hold(self, destination: str, *, wait: bool = True) -> Iterator[bool]:
        """Hold `destination` here and across replicas; yields False if not held (`wait=False`)."""
        with self._guard:
            lock = self._locks.setdefault(destination, threading.RLock())
        with lock:
            coordination = self.coordination
            if not coordination.claim(destination, wait=wait):
                if wait:  # only when shutting down: never deliver unclaimed
                    raise LeaseLost(f"{destination} could not be claimed: shutting down")
                yield False
                return
            try:
                yield True
            finally:
                coordination.release(destination)
