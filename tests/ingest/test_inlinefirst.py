"""bot/ingest/inlinefirst.py: a small poll parses in this process; large documents in workers."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest

from bot.ingest.inlinefirst import InlineFirstParser
from bot.ingest.parse import parse_feed, too_slow_error
from bot.models import ParseResult
from tests.ingest.feedfixtures import FETCHED_AT
from tests.support.feedgen import make_rss, numbered_entries

SMALL = make_rss(numbered_entries(1, 3))
LARGER = make_rss(numbered_entries(1, 200))  # about 30 KB
# Seconds of parsing anywhere (3,000 items), far past the limit below; abandoned in-process.
SLOW = make_rss(numbered_entries(1, 3_000, prefix="Slow"))


def parse(parser: InlineFirstParser, body: bytes, feed_id: str = "f") -> ParseResult:
    return parser.parse(
        feed_id, body, headers={}, url="", fetched_at=FETCHED_AT, summary_max_chars=1000
    )


def worker_pids(parser: InlineFirstParser) -> list[int] | None:
    """The pids of the parser's pool's workers; None when it started no pool."""
    return None if parser.pool is None else parser.pool.pids()


def expected(body: bytes, feed_id: str = "f") -> ParseResult:
    return parse_feed(feed_id, body, fetched_at=FETCHED_AT, summary_max_chars=1000)


@pytest.fixture
def parser() -> Iterator[InlineFirstParser]:
    parser = InlineFirstParser(2, time_limit=20, max_bytes=len(LARGER), budget_bytes=3 * len(SMALL))
    try:
        yield parser
    finally:
        parser.close()
    assert multiprocessing.active_children() == []


def test_a_small_poll_is_parsed_here_and_starts_no_process(parser: InlineFirstParser) -> None:
    assert parse(parser, SMALL, "a") == expected(SMALL, "a")
    assert parse(parser, SMALL, "b") == expected(SMALL, "b")

    assert worker_pids(parser) is None
    assert multiprocessing.active_children() == []


def test_a_document_over_the_size_limit_goes_to_a_worker(parser: InlineFirstParser) -> None:
    large = make_rss(numbered_entries(1, 201))

    assert parse(parser, large) == expected(large)
    pids = worker_pids(parser)
    assert pids is not None and len(pids) == 1
    assert [p.pid for p in multiprocessing.active_children()] == pids


def test_past_the_budget_every_document_goes_to_the_workers(parser: InlineFirstParser) -> None:
    for n in range(3):
        assert parse(parser, SMALL, f"f{n}") == expected(SMALL, f"f{n}")
    assert worker_pids(parser) is None

    assert parse(parser, SMALL, "f3") == expected(SMALL, "f3")
    assert worker_pids(parser)


def test_after_a_parse_here_overran_the_rest_go_to_the_workers() -> None:
    with_limit = InlineFirstParser(2, time_limit=0.05, max_bytes=len(SLOW))
    try:
        slow = parse(with_limit, SLOW)
        assert slow == ParseResult(items=(), error=too_slow_error(0.05))
        assert worker_pids(with_limit) is None  # abandoned here: one busy thread, no more

        assert parse(with_limit, SMALL) == expected(SMALL)
        assert worker_pids(with_limit)
    finally:
        with_limit.close()
    assert multiprocessing.active_children() == []


def test_without_workers_everything_is_parsed_here() -> None:
    parser = InlineFirstParser(0, max_bytes=10, budget_bytes=10)
    assert parse(parser, LARGER) == expected(LARGER)
    assert worker_pids(parser) is None
    assert parser.concurrency == 1
    parser.close()
