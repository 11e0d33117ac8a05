"""A loopback HTTP server that plays feed publishers for tests and benchmarks.

Routes are configured from the test (`server.add(path, body, ...)`); the server
answers conditional requests with 304 as a real publisher would, can misbehave on
purpose (delays, held answers, slow-loris bodies, endless bodies, redirects, gzip), and records
every request so tests can assert what the client sent.

Not obvious:
- Binding, the serving thread and `stop()` come from tests/support/loopback.py, which
  says why the accept queue is deep and how `stop()` avoids hanging.
- It speaks HTTP/1.1 with keep-alive, like real servers. Endless bodies use
  chunked transfer coding; everything else carries a Content-Length.
- Every sleep in a handler waits on the server's `stopping` event, so `stop()`
  never hangs on a route that delays or streams forever.
- Only ever binds 127.0.0.1: tests must never send traffic anywhere else.
"""

from __future__ import annotations

import base64
import email.utils
import gzip as gzip_module
import mimetypes
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.loopback import LoopbackHandler, LoopbackServer

__all__ = ["FeedServer", "Headers", "RecordedRequest", "Route", "serve_directory"]

# Content types a publisher would send for the files of a feed folder.
_FEED_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
    ".json": "application/json",
}

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Route:
    """How the server answers GET requests for one path."""

    body: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    gzip: bool = False
    chunk_delay: float | None = None
    chunk_size: int = 8
    endless: bool = False
    redirect_to: str | None = None
    content_type: str | None = "application/rss+xml; charset=utf-8"
    basic_auth: tuple[str, str] | None = None  # (user, password) the route requires
    hold: threading.Event | None = None  # answers wait until it is set
    # The body as sent on the wire (gzip-compressed once, when asked).
    wire_body: bytes = b""


class Headers(Mapping[str, str]):
    """Request headers; names are case-insensitive (`get("If-None-Match")` works)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            # Repeated headers combine as RFC 9110 §5.3 allows.
            self._values[key] = f"{self._values[key]}, {value}" if key in self._values else value

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # the request target: path and query string
    headers: Headers
    time: float  # time.monotonic() when the request's headers were read
    client_port: int = 0  # the client's end of the connection: one port, one connection

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class FeedServer(LoopbackServer):
    """Threaded loopback HTTP server with routes configured from tests.

    Use as a context manager, or `start()` / `stop()`. Thread-safe: routes may be
    changed while clients are connected.
    """

    thread_name = "feedserver"

    def __init__(self) -> None:
        super().__init__(_FeedHandler)
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {}
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0

    # -- configuration -----------------------------------------------------

    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"{self.origin}{path}"

    def add(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
        gzip: bool = False,
        chunk_delay: float | None = None,
        chunk_size: int = 8,
        endless: bool = False,
        redirect_to: str | None = None,
        content_type: str | None = "application/rss+xml; charset=utf-8",
        basic_auth: tuple[str, str] | None = None,
        hold: threading.Event | None = None,
    ) -> str:
        """Serve `body` at `path` (query string included when given); return its URL.

        `redirect_to` answers with 302 (or `status` when it is a 3xx) and a
        Location header. `chunk_delay` sends `chunk_size` bytes at a time with that
        pause in between (slow-loris). `endless` streams `body` (or zeros) over and
        over until the client hangs up. `content_type=None` sends no Content-Type.
        A `Content-Length` in `headers` replaces the true one (to lie about size).
        `basic_auth=(user, password)` answers 401 to a request without them.
        `hold` (an Event) keeps each request waiting until it is set, then
        answers it from the route as it stands then: a test makes a client's
        request wait at the publisher until the news it should get is there.
        """
        if redirect_to is not None and status not in _REDIRECT_STATUSES:
            status = 302
        wire = gzip_module.compress(body, compresslevel=6) if gzip else body
        route = Route(
            body=body,
            status=status,
            headers=dict(headers or {}),
            etag=etag,
            last_modified=last_modified,
            delay=delay,
            gzip=gzip,
            chunk_delay=chunk_delay,
            chunk_size=max(1, chunk_size),
            endless=endless,
            redirect_to=redirect_to,
            content_type=content_type,
            basic_auth=basic_auth,
            hold=hold,
            wire_body=wire,
        )
        with self._lock:
            self._routes[path] = route
        return self.url(path)

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def add_directory(self, folder: str | Path, *, prefix: str = "/") -> dict[str, str]:
        """Serve every file under `folder` at prefix + its relative path.

        Each file gets an ETag from its size and mtime and a Last-Modified, like
        a static file server, and a Content-Type without charset (so the parser
        reads the encoding from the document). Returns {relative path: URL}.
        """
        root = Path(folder)
        urls: dict[str, str] = {}
        base = "/" + prefix.strip("/")
        base = "" if base == "/" else base
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            stat = file.stat()
            ctype = _FEED_TYPES.get(file.suffix.lower()) or (
                mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            )
            urls[rel] = self.add(
                f"{base}/{rel}",
                file.read_bytes(),
                etag=f'"{stat.st_size:x}-{int(stat.st_mtime):x}"',
                last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True),
                content_type=ctype,
            )
        return urls

    def route_for(self, target: str) -> Route | None:
        with self._lock:
            route = self._routes.get(target)
            if route is None and "?" in target:
                route = self._routes.get(target.split("?", 1)[0])
            return route

    # -- what the clients did ----------------------------------------------

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Requests received so far, oldest first; only those for `path` if given."""
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    @property
    def max_in_flight(self) -> int:
        """Most requests the server was handling at the same moment."""
        with self._lock:
            return self._max_in_flight

    def reset_stats(self) -> None:
        with self._lock:
            self._requests.clear()
            self._max_in_flight = self._in_flight

    def record_start(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def record_end(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _FeedHandler(LoopbackHandler):
    server: FeedServer

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, *, send_body: bool) -> None:
        headers = Headers(self.headers.items())
        self.server.record_start(
            RecordedRequest(
                self.command, self.path, headers, time.monotonic(), self.client_address[1]
            )
        )
        try:
            self._answer(headers, send_body=send_body)
        finally:
            self.server.record_end()

    def _answer(self, headers: Mapping[str, str], *, send_body: bool) -> None:
        route = self.server.route_for(self.path)
        if route is None:
            self._send_simple(404, b"no route for this path\n", send_body=send_body)
            return
        if route.hold is not None:
            while not route.hold.wait(0.02):
                if self.server.stopping.is_set():
                    return
            route = self.server.route_for(self.path) or route
        if route.delay and self.server.stopping.wait(route.delay):
            return
        if route.basic_auth is not None and not _authorized(route.basic_auth, headers):
            self._send_simple(401, b"authentication required\n", send_body=send_body)
            return
        if route.redirect_to is not None:
            self.send_response(route.status)
            self.send_header("Location", route.redirect_to)
            self.send_header("Content-Length", "0")
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        if route.status == 200 and _not_modified(route, headers):
            # RFC 9110 §15.4.5: a 304 carries the validators and caching headers.
            self.send_response(304)
            self._send_validators(route)
            for name, value in route.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.end_headers()
            return

        self.send_response(route.status)
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        if route.gzip:
            self.send_header("Content-Encoding", "gzip")
        self._send_validators(route)
        lied_length = any(name.lower() == "content-length" for name in route.headers)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.endless:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if send_body:
                self._stream_endless(route)
            return
        if not lied_length:
            self.send_header("Content-Length", str(len(route.wire_body)))
        self.end_headers()
        if not send_body:
            return
        if route.chunk_delay is None:
            self.wfile.write(route.wire_body)
            return
        for start in range(0, len(route.wire_body), route.chunk_size):
            self.wfile.write(route.wire_body[start : start + route.chunk_size])
            self.wfile.flush()
            if self.server.stopping.wait(route.chunk_delay):
                return

    def _stream_endless(self, route: Route) -> None:
        chunk = route.wire_body or b"\0" * 65536
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        # Ends when the client hangs up (BrokenPipe/ConnectionReset) or on stop.
        while not self.server.stopping.is_set():
            self.wfile.write(frame)
            if route.chunk_delay and self.server.stopping.wait(route.chunk_delay):
                return

    def _send_validators(self, route: Route) -> None:
        if route.etag is not None:
            self.send_header("ETag", route.etag)
        if route.last_modified is not None:
            self.send_header("Last-Modified", route.last_modified)

    def _send_simple(self, status: int, body: bytes, *, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def _authorized(credentials: tuple[str, str], headers: Mapping[str, str]) -> bool:
    """Whether the request carries HTTP basic credentials `credentials` (RFC 7617)."""
    expected = base64.b64encode(":".join(credentials).encode()).decode()
    return headers.get("authorization", "") == f"Basic {expected}"


def _not_modified(route: Route, headers: Mapping[str, str]) -> bool:
    """Whether a GET with these headers gets 304 (RFC 9110 §13.1.2, §13.1.3)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        # If-None-Match wins over If-Modified-Since, and uses weak comparison.
        if route.etag is None:
            return False
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or _weak(route.etag) in {_weak(t) for t in tags}
    since = headers.get("if-modified-since")
    if since is None or route.last_modified is None:
        return False
    try:
        since_time = email.utils.parsedate_to_datetime(since)
        modified = email.utils.parsedate_to_datetime(route.last_modified)
    except (TypeError, ValueError):
        return False
    return modified <= since_time


def _weak(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


@contextmanager
def serve_directory(folder: str | Path, *, prefix: str = "/") -> Iterator[FeedServer]:
    """Serve every file of `folder` on loopback for the duration of the block."""
    with FeedServer() as server:
        server.add_directory(folder, prefix=prefix)
        yield server
