"""One lock per destination, so that a slow Slack holds up only the channel it is slow for.

A delivery holds its destination's lock from the moment it decides what to
post until its bookkeeping is committed; another delivery to the same place
waits, one elsewhere does not, and nothing that `/brief`, searches or polls
need is held meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DestinationLocks"]


class DestinationLocks:
    """Re-entrant locks by destination name ("digest:C123", "alerts:U456", ...)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    @contextmanager
    def hold(self, destination: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(destination, threading.RLock())
        with lock:
            yield
