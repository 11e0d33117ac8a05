"""bot/ingest/forkparse.py: parse workers forked from the one-shot poll's own process.

A pool may only fork while its process has one thread; the test runner has
more (pytest-xdist's), so each forking case runs in a fresh interpreter
(`in_fresh_process`), which prints what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from bot.config.schema import parse_config_text
from bot.ingest.forkparse import ForkedParsePool
from bot.ingest.parse import parse_feed, too_slow_error
from bot.ingest.poll import fetch_and_parse
from tests.ingest.feedfixtures import FETCHED_AT
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer

COMMON = """
import json, multiprocessing, os, time
from bot.ingest.forkparse import ForkedParsePool
from bot.ingest.parse import parse_feed
from tests.ingest.feedfixtures import FETCHED_AT
from tests.support.feedgen import make_rss, numbered_entries

def parse(pool, body, feed_id="f"):
    return pool.parse(
        feed_id, body, headers={}, url="", fetched_at=FETCHED_AT, summary_max_chars=1000
    )

def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
"""


def in_fresh_process(script: str, *, prefix: str = COMMON) -> dict[str, Any]:
    """Run `prefix` + `script` in a new interpreter; the JSON object it printed last."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return seen


def test_the_workers_are_forked_at_once_and_parse_as_parse_feed_does() -> None:
    seen = in_fresh_process(
        """
        pool = ForkedParsePool(2, time_limit=20)
        forked_pids = pool.pids()  # before any document: forked when the pool was made
        body = make_rss(numbered_entries(1, 5))
        result = parse(pool, body)
        same = result == parse_feed("f", body, fetched_at=FETCHED_AT, summary_max_chars=1000)
        after = pool.pids()  # no other worker was started for the document
        pool.close()
        print(json.dumps({
            "forked": pool.forked,
            "workers": len(forked_pids),
            "same_workers": after == forked_pids,
            "titles": sorted(item.title for item in result.items),
            "same_as_here": same,
            "left": [p.pid for p in multiprocessing.active_children()],
            "gone": all(gone(pid) for pid in forked_pids),
        }))
        """
    )
    assert seen["forked"] is True
    assert seen["workers"] == 2 and seen["same_workers"] is True
    assert seen["titles"] == [f"Story {n}" for n in range(1, 6)]
    assert seen["same_as_here"] is True
    assert seen["left"] == [] and seen["gone"] is True


def test_the_parser_is_loaded_and_frozen_before_the_fork_so_the_workers_inherit_it() -> None:
    """The poll's process needs the parser too (its `helper`): loaded here before the
    fork, it is imported once for the whole tree, not once more in every worker; and
    what the workers inherit is frozen, so their collections do not walk it."""
    script = """
        import gc, json, sys
        from bot.ingest.forkparse import ForkedParsePool

        before = "bot.ingest.parse" in sys.modules
        pool = ForkedParsePool(1, time_limit=20)
        loaded = {m for m in ("bot.ingest.parse", "feedparser") if m in sys.modules}
        frozen = gc.get_freeze_count()  # out of the collector's reach before the fork
        from tests.ingest.feedfixtures import FETCHED_AT  # (it loads the parser)
        from tests.support.feedgen import make_rss, numbered_entries
        body = make_rss(numbered_entries(1, 3))
        result = pool.parse(
            "f", body, headers={}, url="", fetched_at=FETCHED_AT, summary_max_chars=1000
        )
        pool.close()
        print(json.dumps({"before": before, "loaded": sorted(loaded), "forked": pool.forked,
                          "titles": sorted(item.title for item in result.items),
                          "frozen": frozen}))
        """
    # No COMMON: it imports the parser, which this test wants to see loaded by the pool.
    seen = in_fresh_process(script, prefix="")
    assert seen["before"] is False and seen["forked"] is True
    assert seen["loaded"] == ["bot.ingest.parse", "feedparser"]
    assert seen["titles"] == ["Story 1", "Story 2", "Story 3"]
    assert seen["frozen"] > 1000  # the modules loaded: frozen before the fork (gc.freeze)


def test_a_parse_past_the_limit_has_its_worker_killed_and_the_next_one_parses() -> None:
    seen = in_fresh_process(
        """
        pool = ForkedParsePool(1, time_limit=0.5)
        [first] = pool.pids()
        slow = make_rss(numbered_entries(1, 40_000, prefix="Slow"))  # seconds of parsing, even now
        result = parse(pool, slow)
        small = parse(pool, make_rss(numbered_entries(1, 2)))
        pool.close()
        print(json.dumps({
            "error": result.error,
            "first_gone": gone(first),
            "then": sorted(item.title for item in small.items),
            "left": [p.pid for p in multiprocessing.active_children()],
        }))
        """
    )
    assert seen["error"] == too_slow_error(0.5)
    assert seen["first_gone"] is True
    assert seen["then"] == ["Story 1", "Story 2"]  # from a new worker (the forkserver's)
    assert seen["left"] == []


def test_a_pool_closed_before_any_document_ends_its_workers_at_once() -> None:
    seen = in_fresh_process(
        """
        pool = ForkedParsePool(2, time_limit=20)
        pids = pool.pids()
        pool.close()
        print(json.dumps({
            "workers": len(pids),
            "gone": all(gone(pid) for pid in pids),
            "left": [p.pid for p in multiprocessing.active_children()],
        }))
        """
    )
    assert seen["workers"] == 2
    assert seen["gone"] is True and seen["left"] == []


def test_with_another_thread_running_nothing_is_forked() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        pool = ForkedParsePool(2, time_limit=20)
        try:
            assert pool.forked is False
            assert pool.pids() == []
        finally:
            pool.close()
    finally:
        release.set()
        other.join()


def test_an_unforked_pool_still_parses_in_started_workers() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    pool = ForkedParsePool(1, time_limit=20)
    release.set()
    other.join()
    body = make_rss(numbered_entries(1, 2))
    try:
        result = pool.parse(
            "f", body, headers={}, url="", fetched_at=FETCHED_AT, summary_max_chars=1000
        )
        assert result == parse_feed("f", body, fetched_at=FETCHED_AT, summary_max_chars=1000)
        assert len(pool.pids()) == 1
    finally:
        pool.close()


def test_a_poll_killed_outright_takes_its_workers_and_its_output_ends() -> None:
    """Killed (SIGKILL: no close), the workers die with it: whoever reads its output to the
    end is not kept waiting by a worker holding stdout (the crash test's communicate)."""
    script = """
        import signal
        pool = ForkedParsePool(2, time_limit=20)
        print(json.dumps({"pids": pool.pids()}), flush=True)
        parse(pool, make_rss(numbered_entries(1, 2)))  # one worker ready, one perhaps not
        os.kill(os.getpid(), signal.SIGKILL)
        """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [sys.executable, "-c", COMMON + textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    out, _ = process.communicate(timeout=30)  # hung here while a worker held stdout

    assert process.returncode == -signal.SIGKILL
    pids: list[int] = json.loads(out.splitlines()[0])["pids"]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(pid) for pid in pids)


def gone(pid: int) -> bool:
    """Whether no process `pid` runs (a zombie of another parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_once_the_downloads_are_in_the_polls_own_thread_parses_what_waits(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The one worker is busy with a slow document; the small ones that came later are
    parsed by the poll's thread, not queued behind it (bot/ingest/poll.py)."""
    feed_server.add("/slow.xml", make_rss(numbered_entries(1, 3_000, prefix="Slow")))
    for n in range(3):
        feed_server.add(f"/small-{n}.xml", make_rss(numbered_entries(1, 2)), delay=0.3)
    urls = {"slow": feed_server.url("/slow.xml")}
    urls |= {f"small-{n}": feed_server.url(f"/small-{n}.xml") for n in range(3)}
    feeds = "\n".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true" for fid, url in urls.items()
    )
    config = parse_config_text(
        f"settings:\n  data_dir: {tmp_path}\n  total_timeout: 30\nfeeds:\n{feeds}\n", env={}
    )
    done: list[str] = []
    pool = ForkedParsePool(1, time_limit=60)  # not forked here (threads), started on demand
    try:
        outcomes = fetch_and_parse(
            config.feeds,
            {},
            config,
            known=lambda items: [False] * len(items),
            clock=lambda: FETCHED_AT,
            on_fetched=done.append,
            parser=pool,
        )
    finally:
        pool.close()

    assert {o.feed.id: o.parsed for o in outcomes} == {
        "slow": 3_000,
        "small-0": 2,
        "small-1": 2,
        "small-2": 2,
    }
    assert done[-1] == "slow"  # before: the small ones waited for it, on the one worker
