"""The feed farm's HTTP side: one threaded server per loopback address, and `FeedFarm`.

Each answer waits `latency` seconds first (a distant server). Conditional GETs
(RFC 9110 §13.1.2, If-None-Match, weak comparison) get 304 Not Modified when
the ETag is current. Bodies are gzip-encoded when the client accepts it, as
most publishers do.

Feeds are spread over `hosts` loopback addresses (127.0.0.1, 127.0.0.2, ...;
all of 127.0.0.0/8 is loopback on Linux), one listening server each, so a
client's per-host connection limit applies as it would to many publishers.
Where only 127.0.0.1 can be bound, every feed is served from it.

Besides the feeds, every server answers the control paths (`POST
/_farm/advance`, `/_farm/reset`, `/_farm/clear-stats`, `GET /_farm/stats`)
that `FarmProcess` drives the farm with; they are left out of the counts.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from bench.corpus import FeedFile, source_files
from bench.farm_feeds import FarmFeeds

__all__ = ["FarmServer", "FeedFarm"]


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    bytes_sent: int = 0

    def count(self, status: int, size: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            self.bytes_sent += size

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "bytes_sent": self.bytes_sent,
            }

    def clear(self) -> None:
        with self.lock:
            self.requests, self.by_status, self.bytes_sent = 0, {}, 0


class FarmServer(ThreadingHTTPServer):
    """One listening address of the farm: a thread per connection, a deep accept queue."""

    # http.server's backlog of 5 drops SYNs under a concurrent poller; each
    # dropped SYN costs the client a 1 s retransmit.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, host: str, feeds: FarmFeeds, counters: _Counters, latency: float, farm: FeedFarm
    ) -> None:
        self.feeds = feeds
        self.counters = counters
        self.latency = latency
        self.farm = farm
        super().__init__((host, 0), _FarmHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (socket.getfqdn), which
        # can stall for seconds without DNS; loopback needs no name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Headers and body leave in separate writes: with Nagle's algorithm the
        # client's delayed ACK would add ~40 ms to each answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address


class _FarmHandler(BaseHTTPRequestHandler):
    server: FarmServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real publishers
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_farm/stats":
            self._send_json(self.server.farm.stats())
            return
        match = re.fullmatch(r"/feeds/(\d+)(?:\.xml)?", path)
        try:
            etag, body, gzipped, content_type = self.server.feeds.current(
                int(match.group(1)) if match else -1
            )
        except KeyError:
            self._send(404, b"no such feed\n", {"Content-Type": "text/plain"})
            return
        if self.server.latency > 0:
            time.sleep(self.server.latency)
        if _etag_matches(self.headers.get("If-None-Match"), etag):
            self._send(304, b"", {"ETag": etag})
            return
        headers = {"Content-Type": content_type, "ETag": etag}
        if "gzip" in (self.headers.get("Accept-Encoding") or "").lower():
            headers["Content-Encoding"] = "gzip"
            body = gzipped
        self._send(200, body, headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b"{}"
        try:
            params = json.loads(raw or b"{}")
            if self.path == "/_farm/advance":
                added = self.server.feeds.advance(float(params["share"]), int(params["seed"]))
                self._send_json({"added": {str(k): v for k, v in added.items()}})
            elif self.path == "/_farm/reset":
                self.server.feeds.reset()
                self.server.counters.clear()
                self._send_json({"ok": True})
            elif self.path == "/_farm/clear-stats":
                self.server.counters.clear()
                self._send_json({"ok": True})
            else:
                self._send(404, b"no such control\n", {"Content-Type": "text/plain"})
        except (KeyError, TypeError, ValueError) as exc:
            self._send(400, f"bad control request: {exc}\n".encode(), {})

    def _send_json(self, data: Any) -> None:
        self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        if not self.path.startswith("/_farm/"):
            self.server.counters.count(status, len(body))


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match with weak comparison (RFC 9110 §8.8.3.2): W/ prefixes ignored."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


class FeedFarm:
    """The farm in this process: the feeds and one server per loopback address."""

    def __init__(
        self,
        feeds: int,
        *,
        latency: float = 0.02,
        hosts: int = 8,
        files: Sequence[FeedFile] | None = None,
    ) -> None:
        self.feeds = FarmFeeds(feeds, files if files is not None else source_files())
        self.counters = _Counters()
        self.servers: list[FarmServer] = []
        self._threads: list[threading.Thread] = []
        for h in range(1, max(1, hosts) + 1):
            try:
                server = FarmServer(f"127.0.0.{h}", self.feeds, self.counters, latency, self)
            except OSError:
                if h == 1:
                    raise
                break  # only 127.0.0.1 can be bound here: serve everything from it
            self.servers.append(server)

    def start(self) -> Self:
        for server in self.servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"feedfarm-{server.server_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def hosts(self) -> int:
        return len(self.servers)

    def url(self, index: int) -> str:
        server = self.servers[index % len(self.servers)]
        return f"http://{server.server_name}:{server.server_port}/feeds/{index}.xml"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in range(len(self.feeds))]

    @property
    def control_url(self) -> str:
        server = self.servers[0]
        return f"http://{server.server_name}:{server.server_port}"

    def advance(self, share: float, seed: int) -> dict[int, int]:
        return self.feeds.advance(share, seed)

    def reset(self) -> None:
        self.feeds.reset()
        self.counters.clear()

    def stats(self) -> dict[str, Any]:
        return {**self.counters.snapshot(), "feeds": len(self.feeds), "hosts": self.hosts}
