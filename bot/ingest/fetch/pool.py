"""How many connections a fetch run keeps, and the key they are kept by.

`pool_size` says how many idle connections a `FeedClient`'s pools keep
(wire.py's `WirePool`). As many as requests at once (`concurrency`) cannot
keep a connection to each host a run polls: with 8 hosts at 4 requests each,
a request for a host without an idle connection closed another host's to
open its own, and a 1,000-feed poll opened ~900 connections for 1,000
requests. The requests at once are bounded by fetch_all's semaphores, not by
the pool, so the pool only bounds the idle connections kept: enough for
`concurrency` hosts at their per-host limit (64 by default; at most
`MAX_POOL`). An idle connection is checked (still open? past its keep-alive?)
only when a request is about to use it, and fetch_all has `close_idle` close
an origin's idle connections as its last feed ends.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_POOL", "pool_size"]

# Sockets one client keeps open at most, whatever the settings.
MAX_POOL: Final = 256


def pool_size(concurrency: int, per_host_concurrency: int) -> int:
    """Connections to keep: `concurrency` hosts at their per-host limit, within MAX_POOL."""
    size = max(1, concurrency)
    return max(size, min(size * max(1, per_host_concurrency), MAX_POOL))
