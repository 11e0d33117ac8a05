"""Feeds that are costly to parse, through `Runtime.poll` with its parse worker pool (issue 12).

Before: a summary of `&lt;a` × 400,000 or an item of 20,000 categories kept a
core busy for minutes to hours; the 20 s limit stopped waiting, not parsing,
so every poll of such feeds added a busy thread. Now:

- those documents are read within the limit (their work is bounded), and
  their items stored right;
- a document that still overruns (here: 40,000 items against a 0.5 s limit)
  fails with the "gave up parsing" error, its worker process is killed (the
  pid the log names is gone as soon as the poll returns), healthy feeds beside
  it store their items in the same cycle, and poll after poll leaves no extra
  thread or process behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.config.schema import parse_config_text
from bot.ingest.parsepool import ParsePool
from bot.ingest.text import truncate_words
from bot.models import PollReport
from tests.support.feedgen import angle_brackets_rss, categories_rss, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

HEALTHY = {"alpha": "Alpha", "beta": "Beta"}
SLOW = make_rss(numbered_entries(1, 40_000, prefix="Slow"))


@contextmanager
def runtime_for(tmp_path: Path, urls: dict[str, str], settings: str = "") -> Iterator[Runtime]:
    feeds = "".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true\n" for fid, url in urls.items()
    )
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n  max_bytes: 16MB\n  parse_workers: 2\n"
        f"{settings}feeds:\n{feeds}"
    )
    runtime = Runtime.open(parse_config_text(text, "hostile-feeds.yaml", env={}))
    try:
        yield runtime
    finally:
        runtime.close()


def serve_healthy(server: FeedServer) -> dict[str, str]:
    return {
        fid: server.add(f"/{fid}.xml", make_rss(numbered_entries(1, 3, prefix=prefix)))
        for fid, prefix in HEALTHY.items()
    }


def pool_of(runtime: Runtime) -> ParsePool:
    parser = runtime.parser
    assert isinstance(parser, ParsePool)
    return parser


def poll(runtime: Runtime) -> dict[str, PollReport]:
    return {r.feed_id: r for r in runtime.poll(force=True)}


def assert_healthy_stored(runtime: Runtime, reports: dict[str, PollReport]) -> None:
    for fid, prefix in HEALTHY.items():
        assert (reports[fid].status, reports[fid].error) == ("ok", None)
        titles = sorted(i.title for i in runtime.store.items.after() if i.feed_id == fid)
        assert titles == [f"{prefix} {n}" for n in (1, 2, 3)]


def test_hostile_documents_are_read_within_the_limit(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    urls = {
        "brackets": feed_server.add("/brackets.xml", angle_brackets_rss(400_000)),
        "categories": feed_server.add("/categories.xml", categories_rss(20_000)),
        **serve_healthy(feed_server),
    }
    with runtime_for(tmp_path, urls) as runtime:
        reports = poll(runtime)
        items = {i.feed_id: i for i in runtime.store.items.after()}

        assert_healthy_stored(runtime, reports)
        assert (reports["brackets"].status, reports["brackets"].new_items) == ("ok", 1)
        assert items["brackets"].summary == truncate_words("<a" * 400_000, 1000)
        assert (reports["categories"].status, reports["categories"].new_items) == ("ok", 1)
        assert items["categories"].tags == tuple(f"topic {n}" for n in range(50))


def test_a_parse_past_the_limit_is_killed_and_the_others_go_on(
    feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    urls = {
        "slow-1": feed_server.add("/slow-1.xml", SLOW),
        "slow-2": feed_server.add("/slow-2.xml", SLOW.replace(b"Slow", b"Late")),
        **serve_healthy(feed_server),
    }
    threads = threading.active_count()
    with runtime_for(tmp_path, urls, "  parse_timeout: 0.5\n") as runtime:
        for cycle in range(3):  # the issue saw 14 busy threads after three polls
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="bot.ingest.parsepool"):
                reports = poll(runtime)

            for fid in ("slow-1", "slow-2"):
                assert reports[fid].status == "error"
                assert reports[fid].error == (
                    "gave up parsing after 0.5 s: the document is too large or too complex "
                    "to read in time"
                )
            if cycle == 0:
                assert_healthy_stored(runtime, reports)
            killed = [int(pid) for pid in re.findall(r"\(worker (\d+) killed\)", caplog.text)]
            assert len(killed) == 2
            for pid in killed:
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
            assert threading.active_count() == threads
            workers = multiprocessing.active_children()
            assert len(workers) <= 2
            assert set(pool_of(runtime).pids()) == {p.pid for p in workers}
        state = runtime.store.feed_states.get("slow-1")
        assert state is not None
        assert state.consecutive_failures == 3
    assert multiprocessing.active_children() == []


def test_closing_the_runtime_stops_its_workers(feed_server: FeedServer, tmp_path: Path) -> None:
    with runtime_for(tmp_path, serve_healthy(feed_server)) as runtime:
        poll(runtime)
        pids = pool_of(runtime).pids()
        assert pids
    assert multiprocessing.active_children() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
