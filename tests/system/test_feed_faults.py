"""Hostile feeds through the whole pipeline: each fails alone, clearly, and on time.

Every case runs a real `Runtime.poll` (loopback feed server, real store in
tmp_path) with one hostile feed served side by side with two healthy ones. The
healthy feeds must store their items in the same cycle, the hostile feed's
state must carry an error a person can act on, and the cycle must end within
the configured `total_timeout` (plus a margin for parsing and the commit).

Not obvious:
- `max_bytes` is 1 MiB here, so the "10 MB single line" is refused at the cap
  from its Content-Length; a separate test serves the same line under a
  16 MiB cap so the parser itself has to cope with it.
- The https -> http downgrade needs a TLS server to happen live; the decision
  is taken on the redirect hop, so it is checked there (`next_hop`, fetch/urls.py), before
  any connection, as tests/test_fetch.py does for the other hop rules.
- Invalid UTF-8 is not an error: the feed is read leniently (windows-1252) and
  the state carries a warning instead; the items are stored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.config.schema import parse_config_text
from bot.ingest.fetch.urls import FeedURL, Trail, next_hop
from bot.ingest.parse import DEFAULT_TIME_LIMIT
from bot.models import FeedState, PollReport
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

TOTAL_TIMEOUT = 2.0
# Parsing, the ingest thread and the commit run after the last fetch ends.
MARGIN = 1.5
HEALTHY = {"alpha": "Alpha", "beta": "Beta"}

# Billion laughs, cut down: the parser must refuse it before expanding anything.
ENTITY_BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "lolololololololololo">\n'
    + b"".join(
        f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">\n'.encode() for n in range(8)
    )
    + b']>\n<rss version="2.0"><channel><title>bomb</title>'
    b"<item><title>&i;</title><link>https://example.org/bomb</link></item></channel></rss>"
)
HTML_PAGE = (
    b"<!doctype html><html><head><title>Welcome to our site</title></head>"
    b"<body><h1>News</h1><p>Our feed moved.</p></body></html>"
)
TEN_MB = 10 * 1000 * 1000


def ten_mb_line_feed() -> bytes:
    """A valid RSS document on one 10 MB line: one item with a 10 MB description."""
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        b"<title>Long line</title><link>https://example.org/</link><description>x</description>"
        b"<item><title>Huge summary</title><link>https://example.org/huge</link>"
        b'<guid isPermaLink="false">huge-1</guid><description>'
        + b"word " * (TEN_MB // 5)
        + b"</description></item></channel></rss>"
    )


TEN_MB_LINE = ten_mb_line_feed()


def invalid_utf8_feed() -> bytes:
    body = make_rss(numbered_entries(1, 2, prefix="Mojibake"))
    return body.replace(b"Mojibake 2</title>", b"Mojibake \xff\xfe 2</title>")


@dataclass(frozen=True)
class HostileCase:
    """How to serve one hostile feed, and what its state must say afterwards."""

    serve: Callable[[FeedServer, str], str]  # adds the routes at a path, returns the URL
    error: str | None  # regex the feed state's last_error must match
    warning: str | None = None  # regex for a lenient read (items kept)


CASES = {
    "slow-loris": HostileCase(
        lambda s, p: s.add(p, make_rss(numbered_entries(1, 3)), chunk_delay=0.3, chunk_size=4),
        r"^gave up after 2 s fetching from 127\.0\.0\.1:\d+: the whole fetch took longer than "
        r"total_timeout allows$",
    ),
    "endless-body": HostileCase(
        lambda s, p: s.add(p, b"<rss>" * 4096, endless=True),
        r"^response larger than the 1 MiB limit$",
    ),
    "10mb-single-line": HostileCase(
        lambda s, p: s.add(p, TEN_MB_LINE),
        rf"^response larger than the 1 MiB limit \(Content-Length: {len(TEN_MB_LINE)} bytes\)$",
    ),
    "gzip-bomb": HostileCase(
        lambda s, p: s.add(p, b"\0" * (64 * 1024 * 1024), gzip=True),
        r"^response larger than the 1 MiB limit$",
    ),
    "entity-bomb": HostileCase(
        lambda s, p: s.add(p, ENTITY_BOMB),
        r"^refused: the DOCTYPE declares 9 XML entities \(a, b, c, .*\); feeds that declare "
        r"entities are not parsed, to rule out entity-expansion bombs$",
    ),
    "invalid-utf8": HostileCase(
        lambda s, p: s.add(p, invalid_utf8_feed()),
        None,
        warning=r"^wrong character encoding: the HTTP header says utf-8; decoded as windows-1252$",
    ),
    "redirect-loop": HostileCase(
        lambda s, p: (s.add(p + "-b", redirect_to=p), s.add(p, redirect_to=p + "-b"))[1],
        r"^redirect loop: http://127\.0\.0\.1:\d+/(\S+) -> http://127\.0\.0\.1:\d+/\1-b -> "
        r"http://127\.0\.0\.1:\d+/\1$",
    ),
    "html-page": HostileCase(
        lambda s, p: s.add(p, HTML_PAGE, content_type="text/html; charset=utf-8"),
        r"^not a feed: looks like an HTML page$",
    ),
    "empty-200": HostileCase(
        lambda s, p: s.add(p, b""),
        r"^not a feed: the body is empty$",
    ),
    "http-500": HostileCase(
        lambda s, p: s.add(p, b"<html>upstream broke</html>", status=500),
        r"^HTTP 500 Internal Server Error$",
    ),
}


def make_runtime(
    tmp_path: Path, urls: dict[str, str], *, max_bytes: str = "1MB"
) -> Iterator[Runtime]:
    feeds = "".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true\n" for fid, url in urls.items()
    )
    text = (
        "settings:\n"
        f"  data_dir: {tmp_path / 'data'}\n"
        "  connect_timeout: 1\n  read_timeout: 1\n"
        f"  total_timeout: {TOTAL_TIMEOUT:g}\n  max_bytes: {max_bytes}\n"
        f"feeds:\n{feeds}"
    )
    runtime = Runtime.open(parse_config_text(text, "faults-feeds.yaml", env={}))
    try:
        yield runtime
    finally:
        runtime.close()


def serve_healthy(server: FeedServer, first: int, count: int) -> dict[str, str]:
    return {
        fid: server.add(f"/{fid}.xml", make_rss(numbered_entries(first, count, prefix=prefix)))
        for fid, prefix in HEALTHY.items()
    }


def timed_poll(runtime: Runtime) -> tuple[dict[str, PollReport], float]:
    started = time.monotonic()
    reports = runtime.poll(force=True)
    return {r.feed_id: r for r in reports}, time.monotonic() - started


def stored_titles(runtime: Runtime, feed_id: str) -> list[str]:
    return sorted(i.title for i in runtime.store.items.after() if i.feed_id == feed_id)


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_a_hostile_feed_fails_alone_and_on_time(
    case: HostileCase, feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = {"hostile": case.serve(feed_server, "/hostile.xml"), **serve_healthy(feed_server, 1, 3)}
    for runtime in make_runtime(tmp_path, urls):
        reports, elapsed = timed_poll(runtime)
        state: FeedState | None = runtime.store.feed_states.all().get("hostile")

        assert elapsed < TOTAL_TIMEOUT + MARGIN, f"the poll took {elapsed:.1f} s"
        for fid, prefix in HEALTHY.items():
            assert (reports[fid].status, reports[fid].error) == ("ok", None)
            assert stored_titles(runtime, fid) == [f"{prefix} {n}" for n in (1, 2, 3)]
        assert state is not None
        if case.error is not None:
            assert reports["hostile"].status == "error"
            assert state.last_error is not None
            assert re.match(case.error, state.last_error), state.last_error
            assert state.consecutive_failures == 1
            assert stored_titles(runtime, "hostile") == []
        else:
            assert (reports["hostile"].status, state.last_error) == ("ok", None)
            assert state.warning is not None
            assert re.match(str(case.warning), state.warning), state.warning
            assert stored_titles(runtime, "hostile") == ["Mojibake 1", "Mojibake ÿþ 2"]


def test_every_hostile_feed_at_once_still_lets_the_healthy_ones_through(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = {name: case.serve(feed_server, f"/{name}.xml") for name, case in CASES.items()}
    urls.update(serve_healthy(feed_server, 1, 3))
    for runtime in make_runtime(tmp_path, urls):
        reports, elapsed = timed_poll(runtime)
        states = runtime.store.feed_states.all()

        assert elapsed < TOTAL_TIMEOUT + MARGIN, f"the poll took {elapsed:.1f} s"
        for fid, prefix in HEALTHY.items():
            assert stored_titles(runtime, fid) == [f"{prefix} {n}" for n in (1, 2, 3)]
        failed = {name for name, case in CASES.items() if case.error is not None}
        assert {fid for fid, r in reports.items() if r.status == "error"} == failed
        for name in failed:
            error = states[name].last_error
            assert error is not None
            assert re.match(str(CASES[name].error), error), f"{name}: {error}"


# --------------------------------------------------------------------------- beyond the matrix


def test_a_10mb_single_line_under_the_cap_is_parsed_with_a_bounded_summary(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = {"line": feed_server.add("/line.xml", TEN_MB_LINE)}
    urls.update(serve_healthy(feed_server, 1, 2))
    for runtime in make_runtime(tmp_path, urls, max_bytes="16MB"):
        reports, elapsed = timed_poll(runtime)
        [item] = [i for i in runtime.store.items.after() if i.feed_id == "line"]

        assert reports["line"].status == "ok"
        # The parse has its own time limit (bot/ingest/parse.py); fetching is bounded
        # by total_timeout.
        assert elapsed < TOTAL_TIMEOUT + DEFAULT_TIME_LIMIT
        assert item.title == "Huge summary"
        limit = runtime.config.settings.summary_max_chars
        assert 0 < len(item.summary) <= limit + 1  # +1: the ellipsis of a cut summary
        assert item.summary.startswith("word word")
        for fid in HEALTHY:
            assert len(stored_titles(runtime, fid)) == 2


def test_a_feed_flipping_between_two_guid_schemes_stores_nothing_twice(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    def flipped(scheme: str) -> bytes:
        return make_rss(
            [
                Entry(f"Export rule {n}", f"https://example.org/rule/{n}", guid=f"{scheme}{n}")
                for n in (3, 2, 1)
            ]
        )

    urls = {"flip": feed_server.add("/flip.xml", flipped("tag:example.org,2026:"))}
    urls.update(serve_healthy(feed_server, 1, 2))
    for runtime in make_runtime(tmp_path, urls):
        first, _ = timed_poll(runtime)
        assert first["flip"].new_items == 3
        for poll, scheme in enumerate(["urn:uuid:rule-", "tag:example.org,2026:"], start=1):
            feed_server.add("/flip.xml", flipped(scheme))
            serve_healthy(feed_server, 1, 2 + poll)  # one new item per healthy feed
            reports, elapsed = timed_poll(runtime)

            assert elapsed < TOTAL_TIMEOUT + MARGIN
            assert (reports["flip"].status, reports["flip"].new_items) == ("ok", 0)
            assert reports["flip"].seen_items == 3
            assert stored_titles(runtime, "flip") == [f"Export rule {n}" for n in (1, 2, 3)]
            for fid in HEALTHY:
                assert reports[fid].new_items == 1
                assert len(stored_titles(runtime, fid)) == 2 + poll


@pytest.mark.parametrize(
    ("current", "location", "outcome"),
    [
        pytest.param(
            "https://127.0.0.1:8443/feed.xml",
            "http://127.0.0.1:8080/feed.xml",
            "redirect from https to plain http refused: http://127.0.0.1:8080/feed.xml",
            id="https-to-http",
        ),
        pytest.param(
            "https://127.0.0.1:8443/feed.xml",
            "http://user:pw@127.0.0.1/feed.xml",
            "redirect from https to plain http refused: http://127.0.0.1/feed.xml",
            id="https-to-http-credentials-hidden",
        ),
        pytest.param(
            "https://127.0.0.1:8443/feed.xml",
            "https://127.0.0.1:8444/feed.xml",
            "https://127.0.0.1:8444/feed.xml",
            id="https-to-https-followed",
        ),
    ],
)
def test_a_tls_less_redirect_is_refused_on_the_hop(
    current: str, location: str, outcome: str
) -> None:
    # No TLS server: the decision is made on the hop, before any connection.
    trail = Trail(FeedURL.parse(current))
    try:
        decided = str(next_hop(trail, 301, location, 5))
    except Exception as exc:
        decided = str(exc)
    assert decided == outcome
