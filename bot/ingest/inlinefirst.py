"""Parsing for a one-shot `briefbot poll`: small polls in this process, the rest in workers.

`briefbot poll` uses it only where it cannot fork its workers (no `fork`, or
a thread already running): otherwise it parses in workers forked from its
own process, which cost none of the start-up below (bot/ingest/forkparse.py).

Starting the parse worker pool (bot/ingest/parsepool.py) costs about 0.2 s of
CPU: an interpreter that imports feedparser (the forkserver), a resource
tracker, a fork per worker, and pickling each document both ways. A steady
poll of 100 feeds brings ten or so changed documents (0.8 MB), which this
process parses in less than that; on a busy machine, where every process
waits for a core, the pool made `briefbot poll` slower, not faster.
`InlineFirstParser` parses in this process while the poll is small, and
hands documents to a pool, started when the first one needs it, once it is
not:

- a document of at most INLINE_MAX_BYTES is parsed here while the documents
  parsed here so far total at most INLINE_BUDGET_BYTES; any other goes to
  the pool;
- once one parse here overran the time limit, every later document goes to
  the pool (a parse here can only be abandoned, see bot/ingest/parse.py:
  one such is enough);
- with no workers (`parse_workers: 0`) every document is parsed here.

Why only `briefbot poll`: the pool exists so that a hostile document cannot
keep a core, and the GIL the Slack handlers need, busy in the running
service, where an abandoned parse would run on for as long as it likes. A
`briefbot poll` process ends as soon as its poll is stored (bot/app/cli/
main.py `_exit_now`), and an abandoned parse ends with it: a hostile document
costs it at most `parse_timeout` plus the rest of the poll, as it would with
a killed worker. Large documents, where the hostile ones are (see BENCHMARKS,
issue 12), still go to the pool. The service and the console parse every
document in the pool.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from bot.ingest.parsepool import DEFAULT_TIME_LIMIT, FeedParser, InProcessParser, ParsePool
from bot.models import ParseResult

__all__ = ["INLINE_BUDGET_BYTES", "INLINE_MAX_BYTES", "InlineFirstParser"]

# The largest document parsed in this process (the recorded real feeds go up to 320 KB).
INLINE_MAX_BYTES = 512 * 1024
# The most bytes parsed in this process in all; past it, the pool parses.
INLINE_BUDGET_BYTES = 2 * 1024 * 1024


class InlineFirstParser:
    """A `FeedParser` that parses small polls in this process (see the module docstring)."""

    def __init__(
        self,
        workers: int,
        *,
        time_limit: float = DEFAULT_TIME_LIMIT,
        max_bytes: int = INLINE_MAX_BYTES,
        budget_bytes: int = INLINE_BUDGET_BYTES,
        pool: ParsePool | None = None,
    ) -> None:
        """`pool`: the workers to use, if started already (else started when first needed)."""
        self.workers = workers
        self.time_limit = time_limit
        self.max_bytes = max_bytes
        self.budget_bytes = budget_bytes
        self._inline = InProcessParser(time_limit=time_limit)
        self._lock = threading.Lock()
        self._spent = 0  # bytes given to parses in this process
        self._overran = False
        self._pool: ParsePool | None = pool
        self._closed = False

    @property
    def concurrency(self) -> int:
        return max(1, self.workers)

    @property
    def pool(self) -> ParsePool | None:
        """The worker pool, once a document needed it."""
        return self._pool

    def parse(
        self,
        feed_id: str,
        body: bytes,
        *,
        headers: Mapping[str, str],
        url: str,
        fetched_at: datetime,
        summary_max_chars: int,
    ) -> ParseResult:
        pool = self._pool
        if pool is not None:  # parsed while the store opened (bot/ingest/parseahead.py)?
            done = pool.parsed_ahead(feed_id, body, url=url, summary_max_chars=summary_max_chars)
            if done is not None:
                return done
        parser = self._choose(len(body))
        result = parser.parse(
            feed_id,
            body,
            headers=headers,
            url=url,
            fetched_at=fetched_at,
            summary_max_chars=summary_max_chars,
        )
        if parser is self._inline and result.error == _too_slow(self.time_limit):
            with self._lock:
                self._overran = True
        return result

    def _choose(self, size: int) -> FeedParser:
        with self._lock:
            if self.workers <= 0 or self._closed:
                return self._inline
            small = size <= self.max_bytes and self._spent + size <= self.budget_bytes
            if small and not self._overran:
                self._spent += size
                return self._inline
            if self._pool is None:
                self._pool = ParsePool(self.workers, time_limit=self.time_limit)
            return self._pool

    def warm_up(self) -> None:
        """Nothing to start ahead: the pool starts when a document first needs it."""

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def _too_slow(time_limit: float) -> str:
    from bot.ingest.parse import too_slow_error  # loaded already: a parse here ran

    return too_slow_error(time_limit)
