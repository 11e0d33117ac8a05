"""The connection pool (fetch/wire.py, pool.py): a connection kept per host, the guard on each.

Connections are counted at the loopback feed server (one client port, one
connection). Host names come from a FakeResolver, all on 127.0.0.1: to the
pool each name is an origin of its own, as distinct publishers are.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from bot.config.addresses import PUBLIC_ONLY
from bot.ingest.fetch.client import _ssl_context, fetch_feeds
from bot.ingest.fetch.guard import pinned_dialer
from bot.ingest.fetch.pool import MAX_POOL, pool_size
from bot.ingest.fetch.wire import Connection
from bot.models import FeedConfig, FeedState, Settings
from tests.ingest.fetch.fetching import RSS, FakeResolver
from tests.support.feedserver import FeedServer

LOOPBACK_AS_PUBLIC = PUBLIC_ONLY.allowing(["127.0.0.0/8"])


def _host_feeds(server: FeedServer, hosts: list[str], per_host: int) -> list[FeedConfig]:
    feeds = []
    for n in range(per_host * len(hosts)):
        host = hosts[n % len(hosts)]
        server.add(f"/f{n}", RSS, etag=f'"{n}"', delay=0.02)
        url = f"http://{host}:{server.port}/f{n}"
        feeds.append(FeedConfig(id=f"f{n}", url=url, allow_private=True))
    return feeds


def test_feeds_on_more_hosts_than_requests_at_once_keep_each_hosts_connections(
    feed_server: FeedServer,
) -> None:
    """6 hosts x 8 feeds, 6 requests at once, 2 per host: at most 12 connections.

    Before, the pool held `concurrency` (6) connections: a request for a host
    with none idle closed another host's, and nearly every request opened one.
    """
    hosts = [f"h{n}.test" for n in range(6)]
    resolver = FakeResolver({host: ["127.0.0.1"] for host in hosts})
    feeds = _host_feeds(feed_server, hosts, per_host=8)
    settings = Settings(concurrency=6, per_host_concurrency=2)
    first = fetch_feeds(feeds, {}, settings, resolver=resolver)
    feed_server.reset_stats()
    states = {r.feed_id: FeedState(r.feed_id, etag=r.etag) for r in first}

    second = fetch_feeds(feeds, states, settings, resolver=resolver)

    assert [r.status_code for r in second] == [304] * 48
    requests = feed_server.requests()
    connections = {r.client_port for r in requests}
    assert len(requests) == 48
    assert len(connections) <= len(hosts) * 2
    # A connection serves one host name only: reuse never crosses publishers.
    host_of = {(r.client_port, r.header("host")) for r in requests}
    assert len(host_of) == len(connections)


def test_a_pool_smaller_than_the_hosts_closes_idle_connections_for_new_ones(
    feed_server: FeedServer,
) -> None:
    hosts = ["a.test", "b.test", "c.test"]
    resolver = FakeResolver({host: ["127.0.0.1"] for host in hosts})
    feeds = _host_feeds(feed_server, hosts, per_host=3)
    results = fetch_feeds(
        feeds, {}, Settings(concurrency=1, per_host_concurrency=1), resolver=resolver
    )
    assert [r.etag for r in results] == [f'"{n}"' for n in range(9)]
    # One connection at a time, the hosts alternating: each request a new one.
    assert len({r.client_port for r in feed_server.requests()}) == 9


@pytest.mark.parametrize(
    ("concurrency", "per_host", "size"),
    [(16, 4, 64), (1, 1, 1), (8, 8, 64), (64, 64, MAX_POOL), (300, 1, 300)],
)
def test_pool_size(concurrency: int, per_host: int, size: int) -> None:
    assert pool_size(concurrency, per_host) == size


def test_a_kept_connection_does_not_let_a_redirect_to_a_new_private_host_through(
    feed_server: FeedServer,
) -> None:
    # public.test's connection is open and idle when the second feed's
    # redirect names inside.test, which resolves to a private address.
    resolver = FakeResolver({"public.test": ["127.0.0.1"], "inside.test": ["10.0.0.7"]})
    feed_server.add("/ok", RSS)
    feed_server.add("/jump", redirect_to=f"http://inside.test:{feed_server.port}/ok")
    base = f"http://public.test:{feed_server.port}"
    feeds = [FeedConfig(id="ok", url=f"{base}/ok"), FeedConfig(id="jump", url=f"{base}/jump")]
    settings = Settings(concurrency=1, per_host_concurrency=1)

    ok, jump = fetch_feeds(feeds, {}, settings, resolver=resolver, policy=LOOPBACK_AS_PUBLIC)

    assert (ok.ok, ok.body) == (True, RSS)
    assert jump.error == (
        "refused: inside.test resolves to 10.0.0.7, a private address "
        f"(set allow_private: true to allow) (reached by redirect from {base}/jump)"
    )
    assert [r.path for r in feed_server.requests()] == ["/ok", "/jump"]
    assert len({r.client_port for r in feed_server.requests()}) == 1
    assert resolver.calls == [("public.test", feed_server.port), ("inside.test", feed_server.port)]


class _RebindingResolver(FakeResolver):
    """The first answer for a name is loopback, every later one a private address."""

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return ["127.0.0.1"] if len(self.calls) == 1 else ["10.0.0.7"]


def test_a_new_connection_to_a_host_with_one_kept_is_checked_again(
    feed_server: FeedServer,
) -> None:
    """DNS rebinding while a checked connection to the host is open: the next one is refused."""
    feed_server.add("/slow", RSS, delay=0.3)
    feed_server.add("/fast", RSS)
    base = f"http://rebind.test:{feed_server.port}"
    feeds = [FeedConfig(id="slow", url=f"{base}/slow"), FeedConfig(id="fast", url=f"{base}/fast")]
    resolver = _RebindingResolver({})
    settings = Settings(concurrency=2, per_host_concurrency=2)

    slow, fast = fetch_feeds(feeds, {}, settings, resolver=resolver, policy=LOOPBACK_AS_PUBLIC)

    assert (slow.ok, slow.body) == (True, RSS)
    assert fast.error == (
        "refused: rebind.test resolves to 10.0.0.7, a private address "
        "(set allow_private: true to allow)"
    )
    assert [r.path for r in feed_server.requests()] == ["/slow"]
    assert len(resolver.calls) == 2


def test_a_kept_connection_closed_by_the_server_is_seen_as_closed() -> None:
    """An idle connection whose server hung up is no longer reusable once asyncio saw the EOF."""

    async def scenario(listener: socket.socket) -> tuple[bool, bool]:
        dial = pinned_dialer(FakeResolver({}), LOOPBACK_AS_PUBLIC, _ssl_context)
        host, port = listener.getsockname()
        origin = (b"http", host.encode(), port)
        connection = Connection(origin, *await dial(origin, 5))
        accepted, _ = listener.accept()
        before = connection.reusable(0.0, expiry=60)
        accepted.close()
        for _ in range(1000):  # event loop turns until the reader has seen the hang-up
            if not connection.reusable(0.0, expiry=60):
                break
            await asyncio.sleep(0)
        after = connection.reusable(0.0, expiry=60)
        connection.close()
        return before, after

    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert asyncio.run(scenario(listener)) == (True, False)


class _HangUpServer:
    """A keep-alive HTTP/1.1 server on loopback that notices when a.test's connection closes.

    `/a` is answered at once; `/b` waits (at most 5 s) for the client to close
    the connection `/a` came on, and says in its body whether it did.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.a_closed = threading.Event()
        self.threads: list[threading.Thread] = []

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed: the test is over
            thread = threading.Thread(target=self._connection, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _connection(self, conn: socket.socket) -> None:
        served_a = False
        with conn:
            buffer = b""
            while True:
                data = conn.recv(65536)
                if not data:
                    if served_a:
                        self.a_closed.set()
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    path = head.split(b" ")[1]
                    if path == b"/a":
                        served_a, body = True, b"a"
                    else:
                        body = b"closed" if self.a_closed.wait(5) else b"open"
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                    )


def test_a_hosts_idle_connection_is_closed_after_its_last_feed() -> None:
    """A run keeps no connection to a host it has no more feeds for (each would be checked
    at every later request): a.test's is closed while b.test's feed is still being fetched."""
    server = _HangUpServer()
    threading.Thread(target=server.serve, daemon=True).start()
    resolver = FakeResolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    feeds = [
        FeedConfig(id="a", url=f"http://a.test:{server.port}/a", allow_private=True),
        FeedConfig(id="b", url=f"http://b.test:{server.port}/b", allow_private=True),
    ]
    try:
        a, b = fetch_feeds(
            feeds, {}, Settings(concurrency=2, per_host_concurrency=1), resolver=resolver
        )
    finally:
        server.listener.close()
    assert (a.body, b.body) == (b"a", b"closed")


def test_a_kept_connection_the_server_closed_is_not_used_again() -> None:
    """The server hangs up after each answer: each of a host's feeds gets a new connection."""
    connections: list[int] = []

    def serve(listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            with conn:
                connections.append(int(peer[1]))
                while b"\r\n\r\n" not in conn.recv(65536):
                    pass
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                conn.shutdown(socket.SHUT_WR)  # no "Connection: close": a silent hang-up

    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        port = listener.getsockname()[1]
        feeds = [
            FeedConfig(id=f"f{n}", url=f"http://127.0.0.1:{port}/f{n}", allow_private=True)
            for n in range(3)
        ]
        results = fetch_feeds(feeds, {}, Settings(concurrency=1, per_host_concurrency=1))
    assert [(r.ok, r.body) for r in results] == [(True, b"ok")] * 3
    assert len(connections) == 3
