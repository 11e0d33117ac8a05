"""The fetch client against a real loopback HTTP server (tests/support/feedserver.py).

Conditional GETs, statuses, time limits, redirects, the request sent and
concurrency; bodies are in test_body.py, the address guard in test_guard.py.
Every live request goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.ingest.fetch.client import fetch_feeds
from bot.ingest.fetch.urls import FeedURL, Trail, next_hop
from bot.models import FeedConfig, FeedState, FetchResult, Settings
from tests.ingest.fetch.fetching import FAST, RSS, FakeResolver, fetch_one, free_port, local_feed
from tests.support.feedserver import FeedServer, serve_directory
from tests.support.secretscan import (
    FEED_API_KEY,
    FEED_PASSWORD,
    FEED_TOKEN,
    FEED_USER,
    find_leaks,
)

# -- conditional GET ---------------------------------------------------------


def test_etag_is_sent_back_and_a_304_keeps_it(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/fr.rss")
    feed_server.add("/fr.rss", RSS, etag='"v1"')

    first = fetch_one(feed)
    assert (first.ok, first.status_code, first.body, first.etag) == (True, 200, RSS, '"v1"')
    assert first.not_modified is False

    second = fetch_one(feed, FeedState(feed.id, etag=first.etag))
    assert (second.ok, second.not_modified, second.status_code) == (True, True, 304)
    assert second.body == b""
    assert second.etag == '"v1"'
    sent = [r.header("if-none-match") for r in feed_server.requests("/fr.rss")]
    assert sent == [None, '"v1"']


def test_last_modified_is_sent_back_and_a_304_keeps_it(feed_server: FeedServer) -> None:
    stamp = "Tue, 02 Jan 2024 10:00:00 GMT"
    feed = local_feed(feed_server, "/lm.rss")
    feed_server.add("/lm.rss", RSS, last_modified=stamp)

    first = fetch_one(feed)
    assert (first.ok, first.body, first.last_modified) == (True, RSS, stamp)

    second = fetch_one(feed, FeedState(feed.id, last_modified=stamp))
    assert (second.not_modified, second.body, second.last_modified) == (True, b"", stamp)
    sent = [r.header("if-modified-since") for r in feed_server.requests("/lm.rss")]
    assert sent == [None, stamp]


def test_a_hosts_feeds_share_its_connections_when_not_modified(feed_server: FeedServer) -> None:
    """304s put their connection back: 12 feeds on one host, 3 at once, 3 connections."""
    feeds = [local_feed(feed_server, f"/kept-{n}.rss") for n in range(12)]
    for n in range(12):
        feed_server.add(f"/kept-{n}.rss", RSS, etag=f'"v{n}"')
    settings = Settings(concurrency=8, per_host_concurrency=3)
    first = fetch_feeds(feeds, {}, settings)
    feed_server.reset_stats()

    states = {r.feed_id: FeedState(r.feed_id, etag=r.etag) for r in first}
    second = fetch_feeds(feeds, states, settings)

    assert [r.status_code for r in second] == [304] * 12
    connections = {r.client_port for r in feed_server.requests()}
    assert len(feed_server.requests()) == 12
    assert len(connections) <= 3


def test_a_changed_etag_brings_the_full_body(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/changed.rss")
    feed_server.add("/changed.rss", RSS, etag='"v2"')
    result = fetch_one(feed, FeedState(feed.id, etag='"v1"'))
    assert (result.ok, result.not_modified, result.body, result.etag) == (True, False, RSS, '"v2"')


def test_a_304_without_validators_keeps_the_ones_we_sent(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/bare304")
    feed_server.add("/bare304", b"", status=304, content_type=None)
    state = FeedState(feed.id, etag='"abc"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    result = fetch_one(feed, state)
    assert result.not_modified
    assert (result.etag, result.last_modified) == (state.etag, state.last_modified)


# -- statuses ------------------------------------------------------------------


def _in_seconds(seconds: int) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        pytest.param(500, {}, "HTTP 500 Internal Server Error", None, id="500"),
        pytest.param(404, {}, "HTTP 404 Not Found", None, id="404"),
        pytest.param(
            429,
            {"Retry-After": "120"},
            "HTTP 429 Too Many Requests (Retry-After: 120 s)",
            120.0,
            id="429-seconds",
        ),
        pytest.param(
            503,
            {"Retry-After": "30"},
            "HTTP 503 Service Unavailable (Retry-After: 30 s)",
            30.0,
            id="503-seconds",
        ),
        pytest.param(503, {}, "HTTP 503 Service Unavailable", None, id="503-no-retry-after"),
        pytest.param(
            500, {"Retry-After": "60"}, "HTTP 500 Internal Server Error", None, id="500-ignores-it"
        ),
        pytest.param(599, {}, "HTTP 599 (non-standard status)", None, id="non-standard"),
    ],
)
def test_error_statuses_are_failures_with_clear_text(
    feed_server: FeedServer,
    status: int,
    headers: dict[str, str],
    error: str,
    retry_after: float | None,
) -> None:
    feed = local_feed(feed_server, "/status")
    feed_server.add("/status", b"<html>server trouble</html>", status=status, headers=headers)
    result = fetch_one(feed)
    assert (result.ok, result.status_code, result.error) == (False, status, error)
    assert result.retry_after == retry_after
    assert result.body == b""


def test_retry_after_as_an_http_date(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/busy")
    feed_server.add("/busy", b"", status=429, headers={"Retry-After": _in_seconds(90)})
    result = fetch_one(feed)
    assert result.status_code == 429
    # Measured against the response's Date header (whole seconds on both).
    assert result.retry_after is not None
    assert 88 <= result.retry_after <= 91


def test_headers_are_lower_cased_and_max_age_read(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/cached")
    feed_server.add(
        "/cached",
        RSS,
        headers={"Cache-Control": "public, max-age=86400", "Age": "400", "X-Custom": "yes"},
    )
    result = fetch_one(feed)
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert result.headers["x-custom"] == "yes"
    assert result.max_age == 86000.0


# -- time limits ---------------------------------------------------------------


def test_read_timeout(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/sleepy")
    feed_server.add("/sleepy", RSS, delay=2.0)
    settings = Settings(read_timeout=0.3, connect_timeout=1.0, total_timeout=5.0)
    result = fetch_one(feed, settings=settings)
    assert (
        result.error == f"timed out after 0.3 s waiting for data from 127.0.0.1:{feed_server.port}"
    )
    assert result.elapsed < 1.5


def test_slow_loris_body_is_cut_at_the_total_timeout(feed_server: FeedServer) -> None:
    feed = local_feed(feed_server, "/loris")
    # 10 bytes every 0.1 s: each read is quick, the whole body would take 20 s.
    feed_server.add("/loris", b"x" * 2000, chunk_delay=0.1, chunk_size=10)
    settings = Settings(read_timeout=1.0, connect_timeout=1.0, total_timeout=0.8)
    result = fetch_one(feed, settings=settings)
    assert result.ok is False
    assert result.error == (
        f"gave up after 0.8 s fetching from 127.0.0.1:{feed_server.port}: "
        "the whole fetch took longer than total_timeout allows"
    )
    assert 0.7 < result.elapsed < 2.0


def test_connection_refused(feed_server: FeedServer) -> None:
    port = free_port()
    feed = FeedConfig(id="dead", url=f"http://127.0.0.1:{port}/feed", allow_private=True)
    result = fetch_one(feed)
    assert result.error == f"could not connect to 127.0.0.1:{port}: connection refused"


# -- redirects -------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_followed_and_the_final_url_reported(
    feed_server: FeedServer, status: int
) -> None:
    feed_server.add("/old", status=status, redirect_to="/moved")
    feed_server.add("/moved", status=status, redirect_to=feed_server.url("/feed.rss"))
    feed_server.add("/feed.rss", RSS)
    result = fetch_one(local_feed(feed_server, "/old"))
    assert (result.ok, result.body) == (True, RSS)
    assert result.final_url == feed_server.url("/feed.rss")
    assert [r.path for r in feed_server.requests()] == ["/old", "/moved", "/feed.rss"]


def _chain(server: FeedServer, length: int) -> None:
    for n in range(length):
        server.add(f"/hop{n}", redirect_to=f"/hop{n + 1}")
    server.add(f"/hop{length}", RSS)


def test_exactly_max_redirects_is_fine(feed_server: FeedServer) -> None:
    _chain(feed_server, 5)
    result = fetch_one(local_feed(feed_server, "/hop0"))
    assert (result.ok, result.final_url) == (True, feed_server.url("/hop5"))


def test_too_many_redirects(feed_server: FeedServer) -> None:
    _chain(feed_server, 7)
    result = fetch_one(local_feed(feed_server, "/hop0"))
    assert result.error == "too many redirects (more than 5)"
    # The original request plus five followed redirects, not one more.
    assert len(feed_server.requests()) == 6


def test_redirect_loop(feed_server: FeedServer) -> None:
    feed_server.add("/a", redirect_to="/b")
    feed_server.add("/b", redirect_to="/a")
    result = fetch_one(local_feed(feed_server, "/a"))
    a, b = feed_server.url("/a"), feed_server.url("/b")
    assert result.error == f"redirect loop: {a} -> {b} -> {a}"
    assert len(feed_server.requests()) == 2


@pytest.mark.parametrize(
    ("location", "error"),
    [
        pytest.param(
            "ftp://127.0.0.1/feed.rss",
            "redirect to a non-http(s) URL refused: ftp://127.0.0.1/feed.rss",
            id="ftp",
        ),
        pytest.param(
            "file:///etc/passwd",
            "redirect to a non-http(s) URL refused: file:///etc/passwd",
            id="file",
        ),
        pytest.param(
            "javascript:alert(1)//x",
            "redirect to a non-http(s) URL refused: javascript:alert(1)//x",
            id="javascript-no-host",
        ),
    ],
)
def test_redirect_to_other_schemes_is_refused(
    feed_server: FeedServer, location: str, error: str
) -> None:
    feed_server.add("/r", redirect_to=location)
    result = fetch_one(local_feed(feed_server, "/r"))
    assert result.error == error
    assert len(feed_server.requests()) == 1


def test_redirect_without_location(feed_server: FeedServer) -> None:
    feed_server.add("/nowhere", b"moved, but where?", status=302)
    result = fetch_one(local_feed(feed_server, "/nowhere"))
    assert result.error == "HTTP 302 redirect without a Location header"


def test_an_error_after_a_redirect_names_the_final_url(feed_server: FeedServer) -> None:
    feed_server.add("/r", redirect_to="/gone")
    feed_server.add("/gone", b"", status=410)
    result = fetch_one(local_feed(feed_server, "/r"))
    assert result.error == f"HTTP 410 Gone from {feed_server.url('/gone')}"


def with_user(url: str) -> str:
    return url.replace("http://", f"http://{FEED_USER}:{FEED_PASSWORD}@", 1)


def test_credentials_in_a_feed_url_never_reach_error_texts(feed_server: FeedServer) -> None:
    a, b = f"/private/a?token={FEED_TOKEN}", f"/private/b?token={FEED_TOKEN}"
    feed_server.add(a, redirect_to=b)
    feed_server.add(b, redirect_to=a)
    result = fetch_one(FeedConfig(id="auth", url=with_user(feed_server.url(a)), allow_private=True))
    shown_a, shown_b = (feed_server.url(p.replace(FEED_TOKEN, "***")) for p in (a, b))
    assert result.error == f"redirect loop: {shown_a} -> {shown_b} -> {shown_a}"
    assert FEED_PASSWORD not in (result.final_url or "")
    # ... while the server did get them, as HTTP Basic credentials and the query.
    request = feed_server.requests()[0]
    assert request.path == a
    basic = base64.b64encode(f"{FEED_USER}:{FEED_PASSWORD}".encode()).decode()
    assert request.header("authorization") == f"Basic {basic}"


def test_an_error_after_a_redirect_hides_the_final_urls_secrets(feed_server: FeedServer) -> None:
    feed_server.add(f"/moved?access_token={FEED_TOKEN}", redirect_to=f"/gone?sig={FEED_TOKEN}")
    result = fetch_one(
        FeedConfig(id="moved", url=feed_server.url(f"/moved?access_token={FEED_TOKEN}"),
                   allow_private=True)
    )  # fmt: skip
    assert result.error == f"HTTP 404 Not Found from {feed_server.url('/gone?sig=***')}"


def test_a_refused_url_is_shown_without_its_secrets(feed_server: FeedServer) -> None:
    target = f"ftp://{FEED_USER}:{FEED_PASSWORD}@127.0.0.1/f.rss?api_key={FEED_API_KEY}"
    feed_server.add("/r", redirect_to=target)
    redirected = fetch_one(local_feed(feed_server, "/r"))
    configured = fetch_one(FeedConfig(id="ftp", url=target))
    assert redirected.error == (
        "redirect to a non-http(s) URL refused: ftp://***@127.0.0.1/f.rss?api_key=***"
    )
    assert configured.error == "not an http(s) URL: ftp://***@127.0.0.1/f.rss?api_key=***"


def test_no_log_record_of_any_library_shows_a_feed_credential(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    feed_server.add(f"/f.rss?api_key={FEED_API_KEY}", RSS, basic_auth=(FEED_USER, FEED_PASSWORD))
    feed_server.add("/r", redirect_to=f"/f.rss?api_key={FEED_API_KEY}")
    url = with_user(feed_server.url("/r"))

    result = fetch_one(FeedConfig(id="private", url=url, allow_private=True))

    assert (result.ok, result.body) == (True, RSS)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records)
    port = urlsplit(url).port
    assert f"feed private: GET http://127.0.0.1:{port}/r: HTTP 302" in logged
    assert f"feed private: GET http://127.0.0.1:{port}/f.rss?api_key=***: HTTP 200" in logged
    assert [leak.describe() for leak in find_leaks("the log", logged)] == []


# -- requests we send -------------------------------------------------------------


def test_user_agent_and_accept_are_sent(feed_server: FeedServer) -> None:
    feed_server.add("/ua", RSS)
    fetch_one(local_feed(feed_server, "/ua"))
    [request] = feed_server.requests()
    assert request.header("user-agent") == FAST.user_agent
    assert (request.header("accept") or "").startswith("application/rss+xml, application/atom+xml")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        pytest.param(
            "ftp://example.org/feed.rss", "not an http(s) URL: ftp://example.org/feed.rss", id="ftp"
        ),
        pytest.param("file:///etc/passwd", "not an http(s) URL: file:///etc/passwd", id="file"),
        pytest.param("feeds/fr.rss", "not an http(s) URL: feeds/fr.rss", id="relative"),
        pytest.param("http://", "not a valid URL (no host): http://", id="no-host"),
        pytest.param("http://[::1", "not a valid URL: Invalid IPv6 URL", id="broken-ipv6"),
        pytest.param(
            "http://127.0.0.1:99999/", "not a valid URL (port 99999 out of range)", id="port"
        ),
    ],
)
def test_bad_urls_fail_before_any_connection(url: str, error: str) -> None:
    result = fetch_one(FeedConfig(id="bad", url=url, allow_private=True))
    assert (result.ok, result.error) == (False, error)


# -- concurrency ------------------------------------------------------------------


def test_a_slow_feed_does_not_delay_the_fast_ones(feed_server: FeedServer) -> None:
    feed_server.add("/slow", RSS, delay=1.5)
    feeds = [local_feed(feed_server, "/slow")]
    for n in range(10):
        feed_server.add(f"/fast{n}", RSS)
        feeds.append(local_feed(feed_server, f"/fast{n}"))
    settings = Settings(concurrency=4, per_host_concurrency=4, total_timeout=5.0)
    finished: list[tuple[str, float]] = []
    started = time.monotonic()
    results = fetch_feeds(
        feeds, {}, settings, on_result=lambda r: finished.append((r.feed_id, time.monotonic()))
    )
    order = [feed_id for feed_id, _ in finished]
    assert order[-1] == "slow"
    assert sorted(order[:-1]) == sorted(f"fast{n}" for n in range(10))
    assert all(at - started < 1.0 for feed_id, at in finished if feed_id != "slow")
    assert finished[-1][1] - started >= 1.5
    # Returned in feed order, whatever the completion order.
    assert [r.feed_id for r in results] == [f.id for f in feeds]
    assert all(r.ok for r in results)


@pytest.mark.parametrize(
    ("concurrency", "per_host", "hosts", "expected_peak"),
    [
        pytest.param(16, 3, ["a.test"], 3, id="per-host-limit"),
        pytest.param(2, 16, ["a.test"], 2, id="overall-limit"),
        pytest.param(16, 2, ["a.test", "b.test"], 4, id="limit-is-per-host"),
    ],
)
def test_concurrency_limits(
    feed_server: FeedServer,
    concurrency: int,
    per_host: int,
    hosts: list[str],
    expected_peak: int,
) -> None:
    resolver = FakeResolver({host: ["127.0.0.1"] for host in hosts})
    feeds = []
    for n in range(12):
        feed_server.add(f"/p{n}", RSS, delay=0.15)
        host = hosts[n % len(hosts)]
        url = f"http://{host}:{feed_server.port}/p{n}"
        feeds.append(FeedConfig(id=f"p{n}", url=url, allow_private=True))
    settings = Settings(concurrency=concurrency, per_host_concurrency=per_host)
    results = fetch_feeds(feeds, {}, settings, resolver=resolver)
    assert all(r.ok for r in results)
    assert feed_server.max_in_flight == expected_peak


def test_many_feeds_at_once(feed_server: FeedServer) -> None:
    # 200 feeds over 20 host names (all on loopback), default limits.
    resolver = FakeResolver({f"h{n}.test": ["127.0.0.1"] for n in range(20)})
    feeds = []
    for n in range(200):
        feed_server.add(f"/many{n}", RSS, etag=f'"{n}"')
        url = f"http://h{n % 20}.test:{feed_server.port}/many{n}"
        feeds.append(FeedConfig(id=f"many{n}", url=url, allow_private=True))
    results = fetch_feeds(feeds, {}, Settings(), resolver=resolver)
    assert [r.etag for r in results] == [f'"{n}"' for n in range(200)]
    assert 1 < feed_server.max_in_flight <= Settings().concurrency


def test_the_largest_documents_are_asked_for_first(feed_server: FeedServer) -> None:
    # Each document is parsed as it arrives: the large ones first overlap their
    # parsing with the other downloads. One request at a time, to see the order.
    sizes = {"small": 2_000, "never": 0, "large": 300_000, "medium": 40_000, "tiny": 2_000}
    feeds = []
    for name in sizes:
        feed_server.add(f"/{name}", RSS)
        feeds.append(local_feed(feed_server, f"/{name}"))
    states = {
        name: FeedState(name, body_bytes=size) for name, size in sizes.items() if name != "never"
    }
    settings = Settings(concurrency=1, per_host_concurrency=1)

    results = fetch_feeds(feeds, states, settings)

    asked = [r.path for r in feed_server.requests()]
    # Largest first; equal sizes (and the never-fetched 0) keep the configured order.
    assert asked == ["/large", "/medium", "/small", "/tiny", "/never"]
    assert [r.feed_id for r in results] == list(sizes)  # returned in feed order


def test_a_failing_callback_does_not_stop_the_others(feed_server: FeedServer) -> None:
    feeds = []
    for n in range(3):
        feed_server.add(f"/cb{n}", RSS)
        feeds.append(local_feed(feed_server, f"/cb{n}"))
    calls: list[str] = []

    def explode(result: FetchResult) -> None:
        calls.append(result.feed_id)
        raise RuntimeError("caller bug")

    results = fetch_feeds(feeds, {}, FAST, on_result=explode)
    assert sorted(calls) == ["cb0", "cb1", "cb2"]
    assert [r.ok for r in results] == [True, True, True]


def test_works_from_a_worker_thread_and_from_inside_an_event_loop(
    feed_server: FeedServer,
) -> None:
    feed_server.add("/t", RSS)
    feed = local_feed(feed_server, "/t")
    from_thread: list[FetchResult] = []
    worker = threading.Thread(target=lambda: from_thread.extend(fetch_feeds([feed], {}, FAST)))
    worker.start()
    worker.join(timeout=10)

    async def inside_loop() -> list[FetchResult]:
        return fetch_feeds([feed], {}, FAST)

    from_loop = asyncio.run(inside_loop())
    assert [r.body for r in from_thread + from_loop] == [RSS, RSS]


@pytest.mark.parametrize(
    ("current", "location", "outcome"),
    [
        pytest.param(
            "http://a.example/x", "https://a.example/x", "https://a.example/x", id="upgrade"
        ),
        pytest.param("https://a.example/x", "/y?z=1", "https://a.example/y?z=1", id="relative"),
        pytest.param(
            "https://a.example/x",
            "http://a.example/x",
            "redirect from https to plain http refused: http://a.example/x",
            id="downgrade",
        ),
        pytest.param(
            "https://a.example/x",
            "gopher://a.example/",
            "redirect to a non-http(s) URL refused: gopher://a.example/",
            id="gopher",
        ),
    ],
)
def test_redirect_hop_rules(current: str, location: str, outcome: str) -> None:
    # No TLS server here, so the https rules are checked on the hop function.
    trail = Trail(FeedURL.parse(current))
    try:
        target = str(next_hop(trail, 302, location, max_redirects=5))
    except Exception as exc:
        target = str(exc)
    assert target == outcome


def test_serve_directory_serves_every_file_with_validators(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    files = {"a.rss": RSS, "sub/b.atom": b"<feed xmlns='http://www.w3.org/2005/Atom'/>"}
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    with serve_directory(tmp_path, prefix="/feeds") as server:
        feeds = [
            FeedConfig(id=name, url=server.url(f"/feeds/{name}"), allow_private=True)
            for name in files
        ]
        first = fetch_feeds(feeds, {}, FAST)
        states = {r.feed_id: FeedState(r.feed_id, etag=r.etag) for r in first}
        second = fetch_feeds(feeds, states, FAST)
    assert [r.body for r in first] == list(files.values())
    assert [r.headers["content-type"] for r in first] == [
        "application/rss+xml",
        "application/atom+xml",
    ]
    assert [r.not_modified for r in second] == [True, True]
