"""The HTTP server under the Slack app: waitress, with the limits a port open to the internet needs.

`HttpServer(app, host=..., port=...)` binds at once (a taken port fails at
start-up, with OSError) and serves on its own thread; `stop()` ends it.

Not obvious:
- Why waitress and not the standard library's wsgiref: wsgiref gives each
  connection a thread the moment it is accepted and hands the application an
  unread socket, so 400 connections that sent nothing held 400 threads, and a
  body announced as `Content-Length: -1` was read to its end before its
  signature could be checked (a 300 MiB unsigned body took the process to
  797 MB). waitress reads every connection on one event-loop thread and gives
  one of its `WORKERS` threads only a request that has fully arrived. It
  answers a Content-Length that is not plain digits with 400 and one over
  the cap with 413 from the headers alone, stops a chunked body at the cap
  (413) and de-chunks the rest, so the app always sees a Content-Length. A
  connection that sends nothing costs a socket, not a thread.
- Connections are capped (`MAX_CONNECTIONS`). At its limit waitress stops
  accepting, which would let one client's idle connections shut Slack out
  until they time out; here the connections idle longest (nothing being
  answered or sent on them) are closed instead to make room.
- A connection that sends nothing for `IDLE_TIMEOUT` seconds is closed
  (checked every second): a request whose headers or body trickle in holds
  a socket and at most `MAX_HEADER_BYTES` + `BUFFERED_BODY_BYTES` of memory,
  never a thread. Bodies beyond `BUFFERED_BODY_BYTES` are spooled to a
  temporary file until the cap.
- `stop()` stops accepting, lets answers being written go out (up to
  `DRAIN_SECONDS`), then closes every connection.
"""

from __future__ import annotations

import logging
import resource
import threading
import time
from typing import TYPE_CHECKING, Any, cast

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from bot.slack.ackgate import AckGate

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

__all__ = [
    "BUFFERED_BODY_BYTES",
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_HEADER_BYTES",
    "WORKERS",
    "HttpServer",
]

log = logging.getLogger(__name__)

# waitress logs "Task queue depth is N" for every request that waits for a
# worker: 200 lines for 200 commands at once, written by the thread that
# reads and answers every connection. Workers being busy for milliseconds is not news.
_queue_log = logging.getLogger("waitress.queue")
if _queue_log.level == logging.NOTSET:
    _queue_log.setLevel(logging.ERROR)

# Threads that run the app (verification, Bolt, the ack); command work runs on
# the Bolt app's own pool. Acks take milliseconds: a few threads keep up.
WORKERS = 4
# Open connections at once (each one a socket): at most half of `ulimit -n`,
# since accept() fails past the open-file limit (and waitress would spin on it).
MAX_CONNECTIONS = 500
# Seconds a connection may stay silent (before, between or within requests).
IDLE_TIMEOUT = 10
# Slack's request headers are well under a kilobyte.
MAX_HEADER_BYTES = 32 * 1024
# Body bytes a connection holds in memory before waitress spools to a file.
BUFFERED_BODY_BYTES = 64 * 1024
# Connections accepted, or idle ones closed to make room, per loop turn.
_ACCEPT_BATCH = 32
# How long `stop()` waits for answers being written.
DRAIN_SECONDS = 5.0


class _Parser(HTTPRequestParser):
    def parse_header(self, header_plus: bytes) -> None:
        try:
            super().parse_header(header_plus)
        except ValueError:
            # waitress 3.0.2 checks a Content-Length is digits, then int()s it:
            # past 4,300 digits int() raises, and waitress drops the connection
            # without an answer and logs an error. It is a bad request.
            raise ParsingError("Content-Length is invalid") from None


class _Channel(HTTPChannel):
    parser_class = _Parser
    server: _BoundedServer

    def service(self) -> None:
        # One request answered (or failed): the gate's count (bot/slack/ackgate.py).
        try:
            super().service()
        finally:
            self.server.gate.answered()


class _BoundedServer(TcpWSGIServer):
    """waitress's TCP server, closing the idlest connections when it is full."""

    channel_class = _Channel

    def __init__(
        self, app: WSGIApplication, socket_map: dict[int, Any], gate: AckGate, **kw: Any
    ) -> None:
        self.socket_map = socket_map
        self.gate = gate
        super().__init__(app, map=socket_map, **kw)

    def add_task(self, task: Any) -> None:
        # A request has fully arrived: it goes before work that starts from now.
        self.gate.arrived()
        super().add_task(task)

    def channels(self) -> list[HTTPChannel]:
        # waitress keeps them in a dict by file descriptor (its stubs say otherwise).
        return list(cast("dict[int, HTTPChannel]", self.active_channels).values())

    def readable(self) -> bool:
        # BaseWSGIServer.readable, less its log lines (a flood would repeat
        # them on every connection) and making room instead of refusing.
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = int(now) + self.adj.cleanup_interval
            self.maintenance(int(now))
        if not self.accepting:
            return False
        if len(self.socket_map) < self.adj.connection_limit:
            return True
        self._close_idlest()
        return False  # the ones closed leave the map on this loop turn; accept on the next

    def handle_accept(self) -> None:
        # waitress accepts one connection per loop turn, and each turn polls
        # every connection: a backlog of hundreds would take seconds to reach
        # the request behind it. Accept what is waiting, a batch at a time.
        for _ in range(_ACCEPT_BATCH):
            before = len(self.socket_map)
            if before >= self.adj.connection_limit:
                return
            super().handle_accept()
            if len(self.socket_map) == before:
                return  # nothing more waiting (or it failed: next turn)

    def _close_idlest(self) -> None:
        channels = self.channels()
        closing = sum(1 for c in channels if _closing(c))
        # Room for a batch of new connections, not one per loop turn.
        excess = len(self.socket_map) - self.adj.connection_limit + _ACCEPT_BATCH - closing
        idle = [c for c in channels if not (_closing(c) or c.requests or c.total_outbufs_len)]
        idle.sort(key=lambda c: c.last_activity)
        chosen = idle[: max(excess, 0)]
        for channel in chosen:
            channel.will_close = True
        if chosen:
            log.debug("at %d connections: closing the %d idle longest", len(channels), len(chosen))

    def busy(self) -> bool:
        """True while some connection has a request being answered or an answer to send."""
        return any(c.requests or c.total_outbufs_len for c in self.channels())


def _closing(channel: HTTPChannel) -> bool:
    return channel.will_close or channel.close_when_flushed


class HttpServer:
    """`app` on `host:port` (0 picks a free port), from a thread of its own.

    A body over `max_body_bytes` is refused (413) without being read. `gate`
    hears of each request arrived and answered (bot/slack/ackgate.py).
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str,
        port: int,
        max_body_bytes: int,
        gate: AckGate | None = None,
    ) -> None:
        self._map: dict[int, Any] = {}
        workers = ThreadedTaskDispatcher()
        try:
            self._server = _BoundedServer(
                app,
                self._map,
                gate if gate is not None else AckGate(),
                dispatcher=workers,
                host=host,
                port=port,
                connection_limit=_connection_limit(),
                channel_timeout=IDLE_TIMEOUT,
                cleanup_interval=1,
                max_request_header_size=MAX_HEADER_BYTES,
                max_request_body_size=max_body_bytes + 1,  # it refuses the size itself
                inbuf_overflow=BUFFERED_BODY_BYTES,
                asyncore_use_poll=True,  # select() cannot watch descriptors past 1024
                log_socket_errors=False,  # a client that hangs up is not news
                ident="briefbot",
            )
        except OSError:
            wasyncore.close_all(self._map)  # waitress opened its wake-up pipe before binding
            raise
        workers.set_thread_count(WORKERS)
        host, bound_port = self._server.getsockname()  # numeric, as strings
        self.host = host
        self.port = int(bound_port)
        self._stopping = threading.Event()
        self._closing = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, name=f"briefbot-http-{self.port}", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1.0, map=self._map, use_poll=True, count=1)
            self._server.accepting = False
            deadline = time.monotonic() + DRAIN_SECONDS
            while self._server.busy() and time.monotonic() < deadline:
                wasyncore.loop(timeout=0.05, map=self._map, use_poll=True, count=1)
        except Exception:  # a bug in the loop: say so, rather than serve nothing quietly
            log.exception("the HTTP server stopped serving on port %d", self.port)
        finally:
            # Workers wake the loop through the pipe closed below: let them end first.
            self._server.task_dispatcher.shutdown(timeout=int(DRAIN_SECONDS))
            with self._closing:  # not while `stop()` is pulling the trigger
                self._closed = True
                wasyncore.close_all(self._map)

    def stop(self) -> None:
        """Stop accepting, let answers being written go out, close every connection."""
        with self._closing:
            self._stopping.set()
            if not self._closed:
                # Wake the loop now rather than within a second. Under the lock:
                # the loop may wake by itself, see the flag and close the
                # trigger's pipe, whose descriptor could then be anyone's.
                self._server.pull_trigger()
        self._thread.join(timeout=DRAIN_SECONDS + 5)


def _connection_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft // 2))
