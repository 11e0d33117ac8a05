"""The connection pool of a fetch run: keep-alive per host, at a small cost per request.

`pool_size` says how many connections a `FeedClient` keeps. httpx's usual
choice, as many as requests at once (`concurrency`), cannot keep a connection
to each host it polls: with 8 hosts at 4 requests each, a request for a host
without an idle connection closed another host's to open its own, and a
1,000-feed poll opened ~900 connections for 1,000 requests. The requests at
once are bounded by fetch_all's semaphores, not by the pool, so the pool only
bounds the idle connections kept: enough for `concurrency` hosts at their
per-host limit (64 by default; at most `MAX_POOL`). An idle connection is
checked (is it still open?) at every request's start and end, so one kept to a
host the run has no more feeds for only costs: fetch_all has `close_idle`
close an origin's idle connections as its last feed ends.

`ReusePool` is httpcore's pool with one method rewritten, the one that
runs at each request's start and end (`_assign_requests_to_connections`):
httpcore's counts the connections once per connection (`len([...])` inside
the loop, so O(n^2) in the pool's size; a larger pool made it the costliest
part of a request) and compares all of them, not the idle ones, with the
keep-alive limit; and it asks every idle connection whether it is still open
(one poll() each) at every request's start and end. This one makes the same
choices in one pass: drop the closed, close the expired busy ones and the idle
beyond `max_keepalive_connections`, give each queued request an idle
connection to its origin, else a new one, else close the oldest idle
connection for it; an idle connection is asked whether it is still open (or
past its keep-alive) only when a request is about to use it. One kept to a
host that closed it or went quiet is closed when it is met again, when the
pool needs its place, at its host's last feed (`close_idle`) or at the end
of the run. The method is httpcore's
internal API (checked on 1.0.x by tests/ingest/fetch/test_pool.py, which fails
if the pool stops using it).

`CheapStream` wraps each connection's stream so that httpcore's "is the idle
connection still open" check, asked of every idle connection at every request,
is one poll() of the socket, not anyio's typed-attribute lookup (which builds
a dict of lambdas per call) and then the poll().
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, Final

import httpcore
import httpx
from httpcore._utils import is_socket_readable

__all__ = ["MAX_POOL", "CheapStream", "Origin", "ReusePool", "origin_of", "pool_size"]

# A connection's origin as a hashable key: scheme, host, port.
Origin = tuple[bytes, bytes, int]

# Sockets one client keeps open at most, whatever the settings.
MAX_POOL: Final = 256


def pool_size(concurrency: int, per_host_concurrency: int) -> int:
    """Connections to keep: `concurrency` hosts at their per-host limit, within MAX_POOL."""
    size = max(1, concurrency)
    return max(size, min(size * max(1, per_host_concurrency), MAX_POOL))


def origin_of(url: httpx.URL) -> Origin:
    """The pool's key for `url`'s connections: scheme, host, port (the default one if none)."""
    origin = httpcore.URL(
        scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=b"/"
    ).origin
    return (origin.scheme, origin.host, origin.port)


class ReusePool(httpcore.AsyncConnectionPool):
    """httpcore's pool, its request-to-connection assignment done in one pass (module docstring)."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        kept: list[httpcore.AsyncConnectionInterface] = []
        idle = 0
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.is_idle():
                # Whether it is still open is asked when it is about to be used.
                if idle >= self._max_keepalive_connections:
                    closing.append(connection)
                    continue
                idle += 1
            elif connection.has_expired():
                closing.append(connection)
                continue
            kept.append(connection)
        self._connections = kept
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            found = _reusable(kept, origin, closing)
            if found is None and len(kept) >= self._max_connections:
                oldest_idle = next((c for c in kept if c.is_idle()), None)
                if oldest_idle is None:
                    continue  # the request waits for a connection to come free
                kept.remove(oldest_idle)
                closing.append(oldest_idle)
            if found is None:
                found = self.create_connection(origin)
                kept.append(found)
            pool_request.assign_to_connection(found)
        return closing

    async def close_idle(self, origin: Origin) -> None:
        """Close the idle connections to `origin` (those being used stay)."""
        key = httpcore.Origin(*origin)
        with self._optional_thread_lock:
            idle = [c for c in self._connections if c.is_idle() and c.can_handle_request(key)]
            for connection in idle:
                self._connections.remove(connection)
        await self._close_connections(idle)


def _reusable(
    kept: list[httpcore.AsyncConnectionInterface],
    origin: httpcore.Origin,
    closing: list[httpcore.AsyncConnectionInterface],
) -> httpcore.AsyncConnectionInterface | None:
    """A connection to `origin` free for a request; the expired ones met on the way closed."""
    for connection in list(kept):
        if connection.can_handle_request(origin) and connection.is_available():
            if not connection.is_idle() or not connection.has_expired():
                return connection
            kept.remove(connection)
            closing.append(connection)
    return None


class CheapStream(httpcore.AsyncNetworkStream):
    """A connection's stream, its "is_readable" answered from the socket found once."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return CheapStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)
