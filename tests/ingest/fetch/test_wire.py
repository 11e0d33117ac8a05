"""HTTP/1.1 as fetch/wire.py speaks it, against loopback servers that misbehave on purpose.

Each server here is a raw socket with a script per connection: what it sends
for each request it reads, so a test can break the protocol in one precise
way (no answer, a cut body, bytes after the answer, a hang-up on the second
request of a kept connection) and check what the operator is told.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from bot.ingest.fetch.client import fetch_feeds
from bot.models import FeedConfig, FeedState, Settings
from tests.ingest.fetch.fetching import FAST, RSS, fetch_one

# What a connection does with its n-th request (0-based): the bytes to send
# back, or None to hang up without answering.
Script = Callable[[int, bytes], bytes | None]


def ok(body: bytes = RSS, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b%b" % (len(body), body, extra)


class RawServer:
    """A loopback HTTP server whose every connection follows `script`; records what it read."""

    def __init__(self, script: Script, *, hang_up: bool = False) -> None:
        self.script = script
        self.hang_up = hang_up  # close each connection after its first answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self._lock = threading.Lock()
        self._connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def feed(self, path: str, **kw: object) -> FeedConfig:
        return FeedConfig(id=path.strip("/"), url=self.url(path), allow_private=True, **kw)  # type: ignore[arg-type]

    @property
    def connections(self) -> int:
        return self._connections

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed: the test is over
            with self._lock:
                number = self._connections
                self._connections += 1
            threading.Thread(target=self._connection, args=(conn, number), daemon=True).start()

    def _connection(self, conn: socket.socket, number: int) -> None:
        with conn:
            buffer, served = b"", 0
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                with self._lock:
                    self.requests.append((number, head))
                answer = self.script(served, head)
                served += 1
                if answer is None:
                    return
                conn.sendall(answer)
                if self.hang_up:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script, *, hang_up: bool = False) -> RawServer:
        servers.append(RawServer(script, hang_up=hang_up))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_a_hang_up_without_an_answer(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(lambda n, head: None)
    result = fetch_one(server.feed("/f"))
    assert result.error == (
        f"the server at 127.0.0.1:{server.port} broke the HTTP protocol: "
        "Server disconnected without sending a response."
    )


def test_an_answer_that_is_not_http(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(lambda n, head: b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    result = fetch_one(server.feed("/f"))
    assert (result.error or "").startswith(
        f"the server at 127.0.0.1:{server.port} broke the HTTP protocol: "
    )


def test_a_body_cut_short_is_a_failure_not_a_short_feed(
    raw_server: Callable[..., RawServer],
) -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<rss>"
    server = raw_server(lambda n, head: cut, hang_up=True)
    result = fetch_one(server.feed("/f"))
    assert (result.ok, result.body) == (False, b"")
    assert result.error == (
        f"the server at 127.0.0.1:{server.port} broke the HTTP protocol: peer closed "
        "connection without sending complete message body (received 5 bytes, expected 100)"
    )


def test_a_chunked_body_is_read_whole(raw_server: Callable[..., RawServer]) -> None:
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (RSS[:40], RSS[40:]))
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    server = raw_server(lambda n, head: answer)
    assert fetch_one(server.feed("/f")).body == RSS


def test_a_body_until_the_server_closes(raw_server: Callable[..., RawServer]) -> None:
    """No length, no chunks: HTTP/1.0's way, the body ends when the connection does."""

    server = raw_server(lambda n, head: b"HTTP/1.0 200 OK\r\n\r\n" + RSS, hang_up=True)
    assert fetch_one(server.feed("/f")).body == RSS


def test_an_interim_100_answer_is_skipped(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(lambda n, head: b"HTTP/1.1 100 Continue\r\n\r\n" + ok())
    result = fetch_one(server.feed("/f"))
    assert (result.status_code, result.body) == (200, RSS)


def test_bytes_after_an_answer_are_never_read_as_the_next_answer(
    raw_server: Callable[..., RawServer],
) -> None:
    """A server that sends more than it was asked for (a smuggled second response) loses its
    connection: the host's next feed gets its own answer, on a new connection."""
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED"

    def script(n: int, head: bytes) -> bytes | None:
        return ok(b"first" if b"/a " in head else b"second", extra=smuggled)

    server = raw_server(script)
    settings = Settings(concurrency=1, per_host_concurrency=1)
    a, b = fetch_feeds([server.feed("/a"), server.feed("/b")], {}, settings)
    assert (a.body, b.body) == (b"first", b"second")
    assert server.connections == 2


def test_a_kept_connection_that_dies_on_the_next_request_is_retried_on_a_new_one(
    raw_server: Callable[..., RawServer],
) -> None:
    """The server keeps the connection open after the first answer but hangs up on the
    second request (its keep-alive ran out as the request arrived): asked again on a new
    connection, since nothing was answered."""
    server = raw_server(lambda n, head: ok(head.split(b" ")[1]) if n == 0 else None)
    settings = Settings(concurrency=1, per_host_concurrency=1)
    a, b = fetch_feeds([server.feed("/a"), server.feed("/b")], {}, settings)
    assert (a.body, b.body) == (b"/a", b"/b")
    assert [(number, head.split(b" ")[1]) for number, head in server.requests] == [
        (0, b"/a"),
        (0, b"/b"),
        (1, b"/b"),
    ]


def test_a_host_that_closes_every_connection_after_one_answer_still_gets_each_request_once(
    raw_server: Callable[..., RawServer],
) -> None:
    def script(n: int, head: bytes) -> bytes | None:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"

    server = raw_server(script)
    settings = Settings(concurrency=1, per_host_concurrency=1)
    results = fetch_feeds([server.feed(f"/f{n}") for n in range(3)], {}, settings)
    assert [r.body for r in results] == [b"ok"] * 3
    assert len(server.requests) == 3
    assert server.connections == 3


def test_the_request_head(raw_server: Callable[..., RawServer]) -> None:
    """Host with the port, the conditional headers, user info sent as Basic credentials
    (percent-decoded, as httpx sent them) and never in the request line."""
    server = raw_server(lambda n, head: ok())
    feed = FeedConfig(
        id="f",
        url=f"http://us%40er:p%3Ass@127.0.0.1:{server.port}/f.rss?x=1",
        allow_private=True,
    )
    fetch_one(feed, FeedState("f", etag='"v1"', last_modified="Mon, 07 Dec 2026 10:00:00 GMT"))
    [(_, head)] = server.requests
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == "GET /f.rss?x=1 HTTP/1.1"
    assert fields["Host"] == f"127.0.0.1:{server.port}"
    assert fields["If-None-Match"] == '"v1"'
    assert fields["If-Modified-Since"] == "Mon, 07 Dec 2026 10:00:00 GMT"
    assert base64.b64decode(fields["Authorization"].removeprefix("Basic ")) == b"us@er:p:ss"
    assert fields["User-Agent"] == FAST.user_agent


def test_a_repeated_header_is_joined_as_httpx_joined_it(
    raw_server: Callable[..., RawServer],
) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nCache-Control: public\r\nCache-Control: max-age=600\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(RSS), RSS)
    )
    server = raw_server(lambda n, head: answer)
    result = fetch_one(server.feed("/f"))
    assert result.headers["cache-control"] == "public, max-age=600"
    assert result.max_age == 600
