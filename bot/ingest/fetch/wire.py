"""HTTP/1.1 on asyncio's own streams, h11 for the protocol: the fetcher's connections.

Why not httpx's transport (httpx, then httpcore, then anyio, then asyncio):
on the loopback farm (100 feeds, 16 at once, conditional GETs) httpx spent
1.2 ms of CPU per request and asyncio with h11 0.45 ms; in a `briefbot poll`
the downloads share two cores with parsing and the store, so that CPU was
the poll's critical path (BENCHMARKS.md, issue 17, sixth session). Its
failures are `WireError`s, one type per way a request fails (the names
httpx has for them), which errors.py words for the operator.

What it does, and only that: one GET at a time per connection; the response's
head, then its body as it came (`aiter_raw`: chunked transfer undone by h11,
content-coding left to body.py, which caps it); connections kept per origin
(scheme, host, port) when a response was read to its end and neither side
asked to close (`WirePool`, at most `max_idle` idle ones, each for
`keepalive_expiry` seconds). An idle connection the server closed is seen by
asyncio (its reader is at EOF) and never used again; one that dies between
that check and the request is retried once on a new connection, as nothing
of the answer was read. Connections are opened by a `Dialer` (guard.py's
`dial`: resolve, check, connect to the checked address, TLS by the host name).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import h11

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "Connection",
    "Dialer",
    "LocalProtocolError",
    "Origin",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Streams",
    "Timeouts",
    "WireError",
    "WirePool",
    "WireResponse",
    "WriteError",
    "WriteTimeout",
]

# A connection's origin: scheme, host (as the URL has it, IDNA-encoded), port.
Origin = tuple[bytes, bytes, int]
# Opens a connection to an origin within a connect timeout (None: no limit).
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Dialer = Callable[[Origin, float | None], Awaitable[Streams]]
# Takes back a connection whose exchange ended cleanly (the pool's `_put_back`).
Release = Callable[["Connection"], None]

_READ_SIZE: Final = 64 * 1024
# A response head larger than this is refused (h11's own default).
_MAX_HEAD: Final = 64 * 1024


class WireError(Exception):
    """A request that failed on the wire; the subclass says how (errors.py words it)."""


class ConnectError(WireError):
    """No connection: refused, unreachable, not resolved, or the TLS handshake failed."""


class ConnectTimeout(WireError):
    """No connection within the connect timeout."""


class ReadTimeout(WireError):
    """Nothing read within the read timeout."""


class WriteTimeout(WireError):
    """The request could not be sent within the timeout."""


class ReadError(WireError):
    """The connection failed while reading."""


class WriteError(WireError):
    """The connection failed while sending."""


class RemoteProtocolError(WireError):
    """The server broke HTTP/1.1 (no answer, a cut body, bytes that are not HTTP)."""


class LocalProtocolError(WireError):
    """A request this side could not send as HTTP/1.1 (a header value with a newline, say)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed per step (None: no limit); the whole fetch's limit is the caller's."""

    connect: float | None
    read: float | None
    write: float | None


class Connection:
    """One HTTP/1.1 connection: requests one after the other, never two at once."""

    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
        self.idle_since = 0.0  # monotonic time it was last put back idle

    def reusable(self, now: float, expiry: float) -> bool:
        """Idle, open, not past its keep-alive, and nothing unasked-for waiting on it."""
        if self._writer.transport.is_closing() or self._reader.at_eof():
            return False
        if getattr(self._reader, "_buffer", None):  # bytes nobody asked for (asyncio's buffer)
            return False
        return now - self.idle_since < expiry

    def close(self) -> None:
        self._writer.close()

    async def send(
        self,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        timeouts: Timeouts,
        release: Release,
    ) -> WireResponse:
        """Send a GET for `target` and read the response's head; `release` takes the
        connection back once the response is read to its end."""
        try:
            data = self._h11.send(h11.Request(method=b"GET", target=target, headers=headers))
            data += self._h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from None
        await self._write(data, timeouts.write)
        while True:
            event = await self.next_event(timeouts.read)
            if isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue and the like: the real answer follows
            if isinstance(event, h11.Response):
                return WireResponse(self, event, timeouts.read, release)
            raise RemoteProtocolError("Server disconnected without sending a response.")

    async def _write(self, data: bytes, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(data)
                await self._writer.drain()
        except TimeoutError:
            raise WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            raise WriteError(str(exc) or type(exc).__name__) from exc

    async def next_event(self, timeout: float | None) -> object:
        """h11's next event, reading from the socket (within `timeout`) while it needs data."""
        conn = self._h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise RemoteProtocolError(str(exc)) from None
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(timeout):
                    data = await self._reader.read(_READ_SIZE)
            except TimeoutError:
                raise ReadTimeout("timed out reading") from None
            except OSError as exc:
                raise ReadError(str(exc) or type(exc).__name__) from exc
            if not data and conn.their_state is h11.SEND_RESPONSE:
                raise RemoteProtocolError("Server disconnected without sending a response.")
            try:
                conn.receive_data(data)  # b"": the server closed its side
            except h11.RemoteProtocolError as exc:
                raise RemoteProtocolError(str(exc)) from None

    def finished(self) -> bool:
        """The exchange is complete and both sides keep the connection: ready for the next."""
        conn = self._h11
        extra, _ = conn.trailing_data  # bytes after the response: not an answer to the next one
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE and not extra:
            conn.start_next_cycle()
            return True
        return False


class WireResponse:
    """A response's status and head; its body read with `aiter_raw`, then `aclose` it."""

    def __init__(
        self,
        connection: Connection,
        head: h11.Response,
        read_timeout: float | None,
        release: Release,
    ) -> None:
        self.status_code: int = head.status_code
        # Names lower-cased; values as sent (Latin-1, as HTTP/1.1 has them).
        self.headers: list[tuple[str, str]] = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers
        ]
        self.connection: Connection | None = connection
        self._timeout = read_timeout
        self._complete = False
        self._release = release

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it came (content-coding not undone), piece by piece."""
        connection = self.connection
        if connection is None or self._complete:
            return
        while True:
            event = await connection.next_event(self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._complete = True
                return
            else:  # ConnectionClosed before the end: h11 raised for a cut body already
                self._complete = True
                return

    async def aread(self) -> bytes:
        return b"".join([piece async for piece in self.aiter_raw()])

    async def aclose(self) -> None:
        """Done with it: the connection goes back to its pool when reusable, else is closed."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        if self._complete and connection.finished():
            self._release(connection)
        else:
            connection.close()


class WirePool:
    """The connections of one fetch run: new ones from `dial`, idle ones kept per origin."""

    def __init__(
        self, dial: Dialer, timeouts: Timeouts, *, max_idle: int, keepalive_expiry: float
    ) -> None:
        self._dial = dial
        self._timeouts = timeouts
        self._max_idle = max(1, max_idle)
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, list[Connection]] = {}
        self._idle_count = 0
        self._closed = False

    async def get(
        self, origin: Origin, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> WireResponse:
        """GET `target` from `origin` on a kept connection if one is fit, else on a new one."""
        kept = self._take_idle(origin)
        if kept is not None:
            try:
                return await self._send(kept, target, headers)
            except (RemoteProtocolError, ReadError, WriteError):
                # Closed by the server between our check and the request: nothing
                # was answered, so asking again on a new connection is safe for a GET.
                pass
        connection = Connection(origin, *await self._dial(origin, self._timeouts.connect))
        return await self._send(connection, target, headers)

    async def _send(
        self, connection: Connection, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> WireResponse:
        try:
            return await connection.send(target, headers, self._timeouts, self._put_back)
        except BaseException:
            connection.close()
            raise

    def _take_idle(self, origin: Origin) -> Connection | None:
        kept = self._idle.get(origin)
        now = time.monotonic()
        while kept:
            connection = kept.pop()
            self._idle_count -= 1
            if connection.reusable(now, self._expiry):
                return connection
            connection.close()
        return None

    def _put_back(self, connection: Connection) -> None:
        if self._closed:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, []).append(connection)
        self._idle_count += 1
        if self._idle_count > self._max_idle:
            self._close_oldest()

    def _close_oldest(self) -> None:
        origin, kept = min(
            ((o, c) for o, c in self._idle.items() if c), key=lambda oc: oc[1][0].idle_since
        )
        kept.pop(0).close()
        self._idle_count -= 1
        if not kept:
            del self._idle[origin]

    def close_idle(self, origin: Origin) -> None:
        """Close the idle connections to `origin` (the run has no more requests there)."""
        for connection in self._idle.pop(origin, []):
            connection.close()
            self._idle_count -= 1

    def close(self) -> None:
        self._closed = True
        for kept in self._idle.values():
            for connection in kept:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
