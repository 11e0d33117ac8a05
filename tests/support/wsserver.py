"""A loopback WebSocket server that plays Slack's side of Socket Mode for tests.

Point the fake Web API's `apps.connections.open` at `server.url`; the client
under test connects, gets a `hello` at once (as from Slack), and the test then
pushes envelopes (`send`) and reads what the client sent back (`wait_for`).

Not obvious:
- Slack's protocol (https://api.slack.com/apis/socket-mode): every connection
  starts with `{"type": "hello", ...}`; requests arrive as envelopes
  `{"envelope_id", "type": "slash_commands" | "events_api" | "interactive",
  "payload", "accepts_response_payload"}`; the app acknowledges each with
  `{"envelope_id": ...}` (plus an optional `payload`) within 3 s; Slack asks
  for a reconnect with `{"type": "disconnect", "reason": "refresh_requested"}`
  and the client then fetches a new URL and connects again.
- Each connection gets its own URL ticket (`?ticket=N`) like Slack's, so tests
  can tell which connection a message came in on.
- Built on `websockets.sync` (threads, no event loop); server-side pings are
  off so the only pings are the client's. Only ever binds 127.0.0.1. The
  serving thread, `start()`/`stop()` and the context manager are
  tests/support/loopback.py's; the socket is bound in `start()`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.support.loopback import ServedInThread

__all__ = ["SocketModeConnection", "SocketModeServer", "slash_command_envelope"]


@dataclass
class SocketModeConnection:
    """One client connection: its request path and the JSON messages it sent."""

    number: int
    path: str
    websocket: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


class SocketModeServer(ServedInThread):
    """Threaded Socket Mode server on 127.0.0.1, port 0. Use as a context manager."""

    thread_name = "socket-mode-server"

    def __init__(self, *, app_id: str = "A0FAKEAPP") -> None:
        self.app_id = app_id
        self._server: Server | None = None
        self._changed = threading.Condition()
        self._connections: list[SocketModeConnection] = []
        self._tickets = 0
        # Messages that were not JSON, or handler crashes: a test failure.
        self.errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        self._server = serve(self._handle, "127.0.0.1", 0, ping_interval=None, close_timeout=2)
        return super().start()

    def _serve_loop(self) -> None:
        assert self._server is not None
        self._server.serve_forever()

    def _end_serve_loop(self) -> None:
        # Closes the listening socket and the open connections too.
        assert self._server is not None
        self._server.shutdown()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        """A fresh connection URL, as apps.connections.open hands out (new ticket each time)."""
        with self._changed:
            self._tickets += 1
            ticket = self._tickets
        return f"ws://127.0.0.1:{self.port}/link/?ticket=fake-{ticket}"

    # -- what happened -----------------------------------------------------

    @property
    def connections(self) -> list[SocketModeConnection]:
        with self._changed:
            return list(self._connections)

    def wait_for_connections(self, count: int, timeout: float = 10.0) -> SocketModeConnection:
        """Wait until `count` connections were opened; return the newest."""
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self._connections) >= count, timeout)
            assert ok, f"expected {count} Socket Mode connections, got {len(self._connections)}"
            return self._connections[-1]

    def wait_for_close(self, connection: SocketModeConnection, timeout: float = 10.0) -> None:
        with self._changed:
            ok = self._changed.wait_for(lambda: connection.closed, timeout)
        assert ok, f"connection {connection.number} was not closed by the client"

    def wait_for(
        self,
        connection: SocketModeConnection,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first message the client sent on `connection` that satisfies `predicate`."""

        def found() -> dict[str, Any] | None:
            return next((m for m in connection.received if predicate(m)), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
            message = found()
        assert message is not None, f"no such message; the client sent {connection.received!r}"
        return message

    # -- talking to the client ---------------------------------------------

    def send(self, connection: SocketModeConnection, message: dict[str, Any]) -> None:
        self.send_raw(connection, json.dumps(message))

    def send_raw(self, connection: SocketModeConnection, text: str) -> None:
        """Send `text` as one text frame, as it is (not JSON, not an object: Slack would not)."""
        # websockets' sync connections allow one sender at a time; recv runs
        # on the handler thread at the same time, which is allowed.
        with self._changed:
            connection.websocket.send(text)

    def disconnect(
        self, connection: SocketModeConnection, reason: str = "refresh_requested"
    ) -> None:
        """Ask the client to reconnect, as Slack does before it closes a connection."""
        self.send(
            connection,
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}},
        )

    def close(self, connection: SocketModeConnection, timeout: float = 10.0) -> None:
        """Close `connection` from the server side and wait until it is closed."""
        connection.websocket.close()
        self.wait_for_close(connection, timeout)

    # -- the connection handler (one thread per connection) ------------------

    def _handle(self, websocket: ServerConnection) -> None:
        path = websocket.request.path if websocket.request is not None else ""
        with self._changed:
            connection = SocketModeConnection(len(self._connections) + 1, path, websocket)
            self._connections.append(connection)
            self._changed.notify_all()
        hello = {
            "type": "hello",
            "num_connections": len(self._connections),
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            self.send(connection, hello)
            for raw in websocket:
                self._record(connection, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                connection.closed = True
                self._changed.notify_all()

    def _record(self, connection: SocketModeConnection, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            self.errors.append(f"not JSON: {raw!r}")
            return
        with self._changed:
            connection.received.append(message)
            self._changed.notify_all()


def slash_command_envelope(
    envelope_id: str,
    *,
    text: str,
    response_url: str,
    trigger_id: str,
    user_id: str = "U0ALICE",
    channel_id: str = "C0NEWS",
    retry_attempt: int = 0,
) -> dict[str, Any]:
    """A `slash_commands` envelope shaped like Slack's (payload fields as Slack sends them)."""
    envelope: dict[str, Any] = {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "verification-token-unused",
            "team_id": "T0FAKETEAM",
            "team_domain": "fake-workspace",
            "channel_id": channel_id,
            "channel_name": "news",
            "user_id": user_id,
            "user_name": "alice",
            "command": "/brief",
            "text": text,
            "api_app_id": "A0FAKEAPP",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        },
    }
    if retry_attempt:
        envelope.update(retry_attempt=retry_attempt, retry_reason="timeout")
    return envelope


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` every 20 ms until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
