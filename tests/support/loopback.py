"""The start/stop part every loopback test server shares: 127.0.0.1, port 0, a daemon thread.

`LoopbackServer` is the base of the HTTP fakes (feed publishers, the Slack Web
API): a `ThreadingHTTPServer` bound to 127.0.0.1 on a free port, served by a
daemon thread from `start()` until `stop()`, or for a `with` block.
`LoopbackHandler` is the base of their request handlers. `ServedInThread` is
the lifecycle alone, for a server that is not http.server's (the Socket Mode
WebSocket server): it says how to serve and how to stop serving, and gets
`start()`, `stop()` and the context manager.

Not obvious:
- `http.server` listens with a backlog of 5; under a concurrent client the
  dropped SYNs stall a second each, so `request_queue_size` is raised (a class
  attribute: it must be set before the socket binds).
- `HTTPServer.server_bind` looks the host name up (`socket.getfqdn`), which
  can stall on a machine without DNS; loopback needs no name, so it is skipped.
- `stopping` is set before the serving thread is told to end: handlers wait
  on it rather than sleep, so `stop()` never hangs on a request that delays
  or streams forever.
- A client hanging up mid-answer is how many tests end (timeouts, size caps)
  and is ignored; any other handler exception is kept in `errors`, which the
  fixtures assert empty.
- `use_tls` (before `start()`) serves https: the listening socket is wrapped,
  so each handshake happens as a connection is accepted; one a client refuses
  (an unknown authority) ends that connection only.
"""

from __future__ import annotations

import http.server
import socketserver
import ssl
import sys
import threading
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = ["LoopbackHandler", "LoopbackServer", "ServedInThread"]


class ServedInThread:
    """`start()` runs the serve loop in a daemon thread, `stop()` ends it; a context manager.

    Subclasses give `port`, `_serve_loop` (blocks until `_end_serve_loop` is
    called from another thread) and, if the socket outlives the loop, `_close`.
    """

    thread_name: ClassVar[str] = "loopback"
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        raise NotImplementedError

    def _serve_loop(self) -> None:
        raise NotImplementedError

    def _end_serve_loop(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Release the listening socket once the loop has ended (nothing by default)."""

    def start(self) -> Self:
        self._start_serving()
        return self

    def stop(self) -> None:
        self._stop_serving()
        self._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_serving(self) -> None:
        self._thread = threading.Thread(
            target=self._serve_loop, name=f"{self.thread_name}-{self.port}", daemon=True
        )
        self._thread.start()

    def _stop_serving(self) -> None:
        if self._thread is not None:
            self._end_serve_loop()
            self._thread.join(timeout=5)
            self._thread = None


class LoopbackServer(ServedInThread, http.server.ThreadingHTTPServer):
    """Threaded HTTP server on 127.0.0.1, a free port; `handler` answers each request."""

    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        # Only ever loopback: tests must never send traffic anywhere else.
        super().__init__(("127.0.0.1", 0), handler)
        self.stopping = threading.Event()
        # Unexpected exceptions raised by handlers (a broken route, a fake's bug).
        self.errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._scheme = "http"

    def use_tls(self, context: ssl.SSLContext) -> Self:
        """Serve https with `context` (a server context with its certificate); before start()."""
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self._scheme = "https"
        return self

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT` (https after `use_tls`), what its URLs start with."""
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    def _serve_loop(self) -> None:
        self.serve_forever(poll_interval=0.05)

    def _end_serve_loop(self) -> None:
        self.shutdown()

    def _close(self) -> None:
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        if exc is not None:
            with self._errors_lock:
                self.errors.append(exc)
        super().handle_error(request, client_address)


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 without Nagle's delay, quiet; subclasses add `do_GET` etc."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the client's
    # delayed ACK adds ~40 ms to every response.
    disable_nagle_algorithm = True
    # Idle keep-alive connections give their thread back after this long.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows the test's own output
