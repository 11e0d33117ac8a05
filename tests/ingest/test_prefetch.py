"""bot/ingest/prefetch.py: a one-shot poll's downloads begun in a forked child.

`Prefetch` forks only while its process has one thread (the test runner has
more), so the unit cases run in a fresh interpreter (`in_fresh_process` of
tests/ingest/test_forkparse.py); the whole-poll cases run `briefbot poll`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bot.store.tinydb.store import TinyStore
from tests.app.test_cli import run_cli, write_feeds
from tests.ingest.test_forkparse import COMMON, in_fresh_process
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer

PREFETCH = """
from datetime import UTC, datetime
from bot.config.schema import parse_config_text
from bot.ingest.prefetch import Prefetch
from bot.models import FeedState

config = parse_config_text(
    "feeds:\\n"
    "  - {{id: a, url: '{a}', allow_private: true}}\\n"
    "  - {{id: b, url: '{b}', allow_private: true}}\\n"
)
feeds = list(config.feeds)
stale = {{"a": FeedState("a", etag='"a-1"'), "b": FeedState("b", etag='"b-1"')}}
fresh = {{"a": FeedState("a", etag='"a-2"'), "b": FeedState("b", etag='"b-1"')}}
"""


def _script(server: FeedServer, body: str) -> str:
    head = PREFETCH.format(a=server.url("/a.xml"), b=server.url("/b.xml"))
    return head + textwrap.dedent(body)


def test_the_childs_answers_are_the_polls_when_it_fetched_with_the_same_validators(
    feed_server: FeedServer,
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)), etag='"a-3"')
    feed_server.add("/b.xml", make_rss(numbered_entries(10, 2)), etag='"b-1"')
    seen = in_fresh_process(
        _script(
            feed_server,
            """
            prefetch = Prefetch.start(lambda: (feeds, fresh), config.settings)
            arrived = []
            results = prefetch.fetch(feeds, fresh, config.settings, on_result=arrived.append)
            print(json.dumps({
                "forked": prefetch is not None,
                "status": [r.status_code for r in results],
                "not_modified": [r.not_modified for r in results],
                "arrived": sorted(r.feed_id for r in arrived),
            }))
            """,
        )
    )
    assert seen["forked"]
    assert seen["status"] == [200, 304] and seen["not_modified"] == [False, True]
    assert seen["arrived"] == ["a", "b"]
    # One request a feed (the child's), each conditional on the state's ETag.
    assert [r.header("If-None-Match") for r in feed_server.requests("/a.xml")] == ['"a-2"']
    assert [r.header("If-None-Match") for r in feed_server.requests("/b.xml")] == ['"b-1"']


def test_a_child_that_read_older_validators_is_not_trusted(feed_server: FeedServer) -> None:
    # The child read state.json before another poll committed a's new ETag: its
    # unconditional-looking 200 must not stand; the poll asks again, as the store says.
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)), etag='"a-2"')
    feed_server.add("/b.xml", make_rss(numbered_entries(10, 2)), etag='"b-1"')
    seen = in_fresh_process(
        _script(
            feed_server,
            """
            prefetch = Prefetch.start(lambda: (feeds, stale), config.settings)
            results = prefetch.fetch(feeds, fresh, config.settings)
            print(json.dumps({"not_modified": [r.not_modified for r in results]}))
            """,
        )
    )
    assert seen["not_modified"] == [True, True]
    last = feed_server.requests("/a.xml")[-1]
    assert last.header("If-None-Match") == '"a-2"'


def test_a_child_that_fails_costs_no_feed(feed_server: FeedServer) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)), etag='"a-3"')
    feed_server.add("/b.xml", make_rss(numbered_entries(10, 2)), etag='"b-1"')
    seen = in_fresh_process(
        _script(
            feed_server,
            """
            def broken():
                raise OSError("state.json unreadable")
            prefetch = Prefetch.start(broken, config.settings)
            results = prefetch.fetch(feeds, fresh, config.settings)
            print(json.dumps({"status": [r.status_code for r in results]}))
            """,
        )
    )
    assert seen["status"] == [200, 304]
    assert len(feed_server.requests("/a.xml")) == 1  # fetched by the poll itself


def test_the_child_downloads_on_while_the_poll_is_not_reading(feed_server: FeedServer) -> None:
    # The poll reads the child's results only once its store is open. A pipe holds
    # 64 KB: a larger document waited in the pipe, and with it the child's event
    # loop and every download behind it. Here one download at a time, a 1 MB
    # document first, and a poll that reads nothing until the second was asked for.
    big = make_rss(numbered_entries(1, 5000))
    assert len(big) > 1024 * 1024
    feed_server.add("/a.xml", big, etag='"a-3"')
    feed_server.add("/b.xml", make_rss(numbered_entries(10, 2)), etag='"b-1"')
    limits = '"settings: {{concurrency: 1, per_host_concurrency: 1}}\\n"\n    '
    one_at_a_time = PREFETCH.replace('"feeds:', limits + '"feeds:')
    head = one_at_a_time.format(a=feed_server.url("/a.xml"), b=feed_server.url("/b.xml"))
    script = head + textwrap.dedent(
        """
        import sys
        prefetch = Prefetch.start(lambda: (feeds, fresh), config.settings)
        print("forked" if prefetch is not None else "not forked", flush=True)
        sys.stdin.readline()  # the test lets the poll read once b was asked for
        results = prefetch.fetch(feeds, fresh, config.settings)
        print(json.dumps({"sizes": [len(r.body) for r in results]}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with subprocess.Popen(
        [sys.executable, "-c", COMMON + script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as poll:
        assert poll.stdin is not None and poll.stdout is not None
        try:
            first = poll.stdout.readline().strip()
            assert first == "forked", first or poll.communicate(timeout=60)[1]
            deadline = time.monotonic() + 20
            while not feed_server.requests("/b.xml") and time.monotonic() < deadline:
                time.sleep(0.01)
            asked_for_b = bool(feed_server.requests("/b.xml"))
            poll.stdin.write("go\n")
            poll.stdin.flush()
            out, err = poll.communicate(timeout=60)
        finally:
            poll.kill()
    assert asked_for_b, "the child stopped downloading while the poll was not reading"
    assert poll.returncode == 0, err
    assert json.loads(out.splitlines()[-1]) == {"sizes": [len(big), 0]}  # b: 304, no body
    assert len(feed_server.requests("/a.xml")) == 1  # nothing fetched twice


# A poll of the feeds in URLS (name -> url): its forked worker and its downloads' child.
POLL_OF_URLS = """
from datetime import UTC, datetime
from bot.config.schema import parse_config_text
from bot.ingest.forkparse import ForkedParsePool
from bot.ingest.prefetch import Prefetch

config = parse_config_text(
    "feeds:\\n" + "".join(
        f"  - {{id: {name}, url: '{url}', allow_private: true}}\\n"
        for name, url in URLS.items()
    )
)
feeds = list(config.feeds)
pool = ForkedParsePool(1, time_limit=20)  # forked first: this process has one thread
prefetch = Prefetch.start(lambda: (feeds, {}), config.settings)
"""

PARSED_HERE_WHILE_DOWNLOADING = (
    POLL_OF_URLS
    + """
import threading
from bot.ingest.poll import fetch_and_parse

events = []
parsed_here = threading.Event()

def fetch(*args, on_result, **kw):
    def arrived(result):
        events.append(["result", result.feed_id])
        on_result(result)
    return prefetch.fetch(*args, on_result=arrived, **kw)

def parsed(feed_id):
    name = threading.current_thread().name
    events.append(["parsed", feed_id, name])
    if name == "briefbot-ingest-here":
        parsed_here.set()
    else:  # the worker's thread waits, so that the others wait for this process
        parsed_here.wait(10)

fetch_and_parse(
    feeds, {}, config, known=lambda items: [False] * len(items),
    clock=lambda: datetime.now(UTC), on_fetched=parsed, parser=pool, fetch=fetch,
)
pool.close()
print(json.dumps({"events": events}))
"""
)


def test_the_poll_parses_in_its_own_process_while_the_child_downloads(
    feed_server: FeedServer,
) -> None:
    # With its downloads in the child, the poll's own process has nothing to do
    # but parse: a thread of it takes documents beside the worker from the
    # first download on, not only once every download is in.
    urls = {}
    for name in ("a", "b", "c"):
        urls[name] = feed_server.add(f"/{name}.xml", make_rss(numbered_entries(1, 3)))
    urls["slow"] = feed_server.add("/slow.xml", make_rss(numbered_entries(1, 3)), delay=1.5)
    seen = in_fresh_process(f"URLS = {urls!r}\n" + PARSED_HERE_WHILE_DOWNLOADING)
    events = seen["events"]
    slow_came = events.index(["result", "slow"])
    here = [e for e in events[:slow_came] if e[0] == "parsed" and e[2] == "briefbot-ingest-here"]
    assert here, events
    assert sorted(e[1] for e in events if e[0] == "parsed") == ["a", "b", "c", "slow"]


def test_a_whole_poll_stores_what_changed_and_asks_conditionally(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)), etag='"a-1"')
    feed_server.add("/b.xml", make_rss(numbered_entries(10, 2)), etag='"b-1"')
    urls = {"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")}
    data = tmp_path / "data"
    config = write_feeds(tmp_path / "feeds.yaml", urls, data)
    first = run_cli("--config", str(config), "poll", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 5)), etag='"a-2"')

    second = run_cli("--config", str(config), "poll", cwd=tmp_path)

    assert second.returncode == 0, second.stderr
    rows = {line.split()[0]: line.split() for line in second.stdout.splitlines() if line}
    assert rows["a"][1] == "ok" and rows["a"][2] == "2"  # the two new entries
    assert rows["b"][1] == "not-modified"
    assert [r.header("If-None-Match") for r in feed_server.requests("/a.xml")] == [None, '"a-1"']
    assert [r.header("If-None-Match") for r in feed_server.requests("/b.xml")] == [None, '"b-1"']
    with TinyStore.open(data, read_only=True) as store:
        assert store.items.count() == 7
        assert store.feed_states.get("a").etag == '"a-2"'  # type: ignore[union-attr]


PARSED_AHEAD = (
    POLL_OF_URLS
    + """
ahead = pool.parse_ahead(summary_max_chars=1000)
prefetch.listen(ahead.offer)  # from here on, as while a poll opens its store
results = prefetch.fetch(feeds, {}, config.settings)  # the slow feed keeps it 1.5 s

def asked(result, body=None):
    return pool.parse(
        result.feed_id, result.body if body is None else body, headers=result.headers,
        url=result.final_url or result.url, fetched_at=datetime.now(UTC), summary_max_chars=1000,
    )

seen = {}
for result in results:
    first, again = asked(result), asked(result)
    refetched = asked(result, bytes(bytearray(result.body)))  # the same bytes, another fetch
    here = parse_feed(
        result.feed_id, result.body, headers=result.headers, url=result.final_url or result.url,
        fetched_at=FETCHED_AT, summary_max_chars=1000,
    )
    seen[result.feed_id] = {
        "kept": first is again,
        "refetch_kept": refetched is first,
        "titles": [i.title for i in first.items],
        "titles_here": [i.title for i in here.items],
    }
pool.close()
print(json.dumps(seen))
"""
)


def test_documents_that_arrive_while_the_store_opens_are_parsed_by_then(
    feed_server: FeedServer,
) -> None:
    # The poll's process imports the runtime and opens its store before it reads
    # the child's results; the worker parses what arrived meanwhile, and the poll's
    # own parse of the same document is answered with that result.
    urls = {}
    for name, count in (("a", 3), ("b", 4), ("c", 5)):
        urls[name] = feed_server.add(f"/{name}.xml", make_rss(numbered_entries(1, count)))
    urls["slow"] = feed_server.add("/slow.xml", make_rss(numbered_entries(1, 2)), delay=1.5)
    seen = in_fresh_process(f"URLS = {urls!r}\n" + PARSED_AHEAD)
    for name in ("a", "b", "c"):
        assert seen[name]["kept"], f"{name} was not parsed ahead: {seen}"
        # Another body object (a fetch of its own) is parsed again, never answered
        # with the result of bytes it is not.
        assert not seen[name]["refetch_kept"], seen
    for name, found in seen.items():
        assert found["titles"] == found["titles_here"] != [], (name, seen)
