"""bot/ingest/parsepool.py: feeds parsed in worker processes; one past its limit is killed.

"Killed" is checked on the process itself: right after the parse returns, its
worker's pid must be gone (the pool awaits the exit, so nothing is waited for
here), and every worker left must be idle (sleeping in its pipe read, not
running).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ingest.parse import parse_feed
from bot.ingest.parsepool import InProcessParser, ParsePool, open_parser, resolve_workers
from bot.models import ParseResult
from tests.ingest.feedfixtures import FETCHED_AT, FIXTURES
from tests.support.feedgen import make_rss, numbered_entries

SMALL = make_rss(numbered_entries(1, 3))
# Seconds of parsing on any machine (40,000 items), far past the limits below.
SLOW = make_rss(numbered_entries(1, 40_000))
LIMIT = 0.3


def parse(pool: ParsePool | InProcessParser, body: bytes, feed_id: str = "f") -> ParseResult:
    return pool.parse(
        feed_id, body, headers={}, url="", fetched_at=FETCHED_AT, summary_max_chars=1000
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def settles_idle(pid: int, within: float = 10.0) -> bool:
    """Whether the worker is soon asleep (waiting for a job), not running.

    Just after sending a result it still frees the parse's objects, so its
    state is polled until it sleeps, for `within` seconds at most.
    """
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "S":
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    with ParsePool(2, time_limit=LIMIT) as started:
        yield started


def test_a_worker_parses_as_this_process_does(pool: ParsePool) -> None:
    body = (FIXTURES / "fr-entity-list.rss").read_bytes()
    expected = parse_feed("f", body, fetched_at=FETCHED_AT)
    assert parse(pool, body) == expected
    assert len(expected.items) == 8
    [pid] = pool.pids()
    assert pid != os.getpid()


def test_a_parse_past_its_limit_is_killed_with_its_process(
    pool: ParsePool, caplog: pytest.LogCaptureFixture
) -> None:
    parse(pool, SMALL)
    [worker] = pool.pids()
    threads = threading.active_count()

    with caplog.at_level(logging.WARNING, logger="bot.ingest.parsepool"):
        result = parse(pool, SLOW, "slow")

    assert result == ParseResult(
        items=(),
        error=f"gave up parsing after {LIMIT:g} s: the document is too large or too complex "
        "to read in time",
    )
    assert not alive(worker)
    assert pool.pids() == []
    assert threading.active_count() == threads
    assert f"feed slow: parse stopped after {LIMIT:.1f} s (worker {worker} killed)" in caplog.text
    # The next parse gets a new worker.
    assert len(parse(pool, SMALL).items) == 3
    [replacement] = pool.pids()
    assert replacement != worker
    assert settles_idle(replacement)


def test_parses_run_side_by_side_and_a_slow_one_holds_up_no_other(pool: ParsePool) -> None:
    results: dict[str, ParseResult] = {}

    def run(name: str, body: bytes) -> None:
        results[name] = parse(pool, body, name)

    slow = threading.Thread(target=run, args=("slow", SLOW))
    slow.start()
    for n in range(5):  # one after the other on the second worker meanwhile
        run(f"small-{n}", SMALL)
    slow.join()

    assert [len(results[f"small-{n}"].items) for n in range(5)] == [3] * 5
    assert results["slow"].error is not None
    assert results["slow"].error.startswith("gave up parsing after 0.3 s")
    assert all(settles_idle(pid) for pid in pool.pids())


def test_a_worker_that_died_while_idle_is_replaced(pool: ParsePool) -> None:
    parse(pool, SMALL)
    [worker] = pool.pids()
    os.kill(worker, signal.SIGKILL)
    assert len(parse(pool, SMALL).items) == 3
    assert worker not in pool.pids()


def test_close_stops_every_worker_and_awaits_them() -> None:
    pool = ParsePool(2, time_limit=30)
    started = threading.Event()
    results: list[ParseResult] = []

    def slow() -> None:
        started.set()
        results.append(parse(pool, SLOW))

    parse(pool, SMALL)
    busy = threading.Thread(target=slow)
    busy.start()
    started.wait()
    pool.close()  # one worker idle, the other busy (or about to be)
    busy.join()

    assert multiprocessing.active_children() == []
    assert pool.pids() == []
    assert results == [ParseResult(items=(), error="not parsed: the bot is shutting down")]
    assert parse(pool, SMALL).error == "not parsed: the bot is shutting down"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_workers_leave_stopping_to_the_bot(pool: ParsePool, signum: int) -> None:
    parse(pool, SMALL)
    [worker] = pool.pids()
    # Ctrl-C reaches the whole process group, systemd's SIGTERM the whole service.
    os.kill(worker, signum)
    assert len(parse(pool, SMALL).items) == 3
    assert pool.pids() == [worker]


def test_zero_workers_parse_in_this_process() -> None:
    parser = open_parser(0, time_limit=5)
    assert isinstance(parser, InProcessParser)
    assert len(parse(parser, SMALL).items) == 3
    assert multiprocessing.active_children() == []


def test_auto_is_one_worker_per_usable_core() -> None:
    assert resolve_workers("auto") == len(os.sched_getaffinity(0))
    assert resolve_workers(3) == 3
    with pytest.raises(ValueError, match=re.escape("at least one worker, not 0")):
        ParsePool(0)


def workers_started(pool: ParsePool, count: int, within: float = 30.0) -> list[int]:
    """The pool's worker pids once `count` of them run (at most `within` seconds)."""
    deadline = time.monotonic() + within
    while len(pool.pids()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return pool.pids()


def test_warm_up_starts_the_workers_before_the_first_document(pool: ParsePool) -> None:
    pool.warm_up()
    pool.warm_up()  # twice: still no more than two workers
    started = workers_started(pool, 2)
    assert len(started) == 2
    assert all(settles_idle(pid) for pid in started)
    results = [parse(pool, SMALL, f"f{n}") for n in range(4)]
    assert all(len(r.items) == 3 for r in results)
    assert pool.pids() == started  # the parses ran on them: none started late


def test_warm_up_of_a_closed_pool_starts_nothing() -> None:
    pool = ParsePool(2, time_limit=LIMIT)
    pool.close()
    pool.warm_up()
    assert workers_started(pool, 1, within=0.5) == []
    assert multiprocessing.active_children() == []
    InProcessParser().warm_up()  # nothing to start: parses here


def test_the_pool_and_the_parser_default_to_one_time_limit() -> None:
    from bot.ingest import parse as parse_module
    from bot.ingest import parsepool

    assert parsepool.DEFAULT_TIME_LIMIT == parse_module.DEFAULT_TIME_LIMIT
    assert ParsePool(1).time_limit == parse_module.DEFAULT_TIME_LIMIT
