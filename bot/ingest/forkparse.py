"""Parse workers forked from a one-shot `briefbot poll`, so parsing runs on another core.

A `briefbot poll` process spends about as much CPU parsing as on everything
else, and it has the GIL to share: parsed on ingest threads, the documents
hold up the event loop that is fetching the rest. `ForkedParsePool` is the
parse pool (bot/ingest/parsepool.py) with its first workers made by `fork`
of the poll's own process, before that process has any other thread and
before the store is opened, instead of from the forkserver (an interpreter
of its own: 0.2 s of CPU, which made the pool a loss for a small poll). A
fork costs a few milliseconds. The parser (bot.ingest.parse, 30 ms of CPU) is
imported here just before the fork, so the workers have it at once and it is
imported once, not once per process: this process needs it too (it parses
small documents beside the workers, `helper`). What a parse in a worker costs
this process is sending the document and reading back the items.

Not obvious:

- Forked as bot/ingest/forking.py says (one thread, Linux; `gc.freeze` and
  flushed output first; the worker dies with the poll): otherwise no worker
  is forked, and `forked` says so (the caller parses another way). A worker
  the pool needs later (one killed after the time limit, one retired after a
  large document) comes from the forkserver as in the service.
- Before the store is opened: a forked worker inherits every open file, the
  data directory's lock among them, and would hold it until it exits.
- A forked worker does not wait to be ready: its first job waits for its
  "ready" instead (START_TIMEOUT), so forking costs the poll no wait; the time
  limit still counts parsing only. One the pool closes before it was ready is
  killed, not asked to stop: it has nothing to finish.
- A worker closes its copies of the other workers' pipe ends, so that each
  sees the end of its own pipe when this process is gone.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from datetime import datetime
from multiprocessing.connection import Connection

from bot.ingest.forking import before_fork, can_fork_workers, die_with_parent
from bot.ingest.inlinefirst import InlineFirstParser
from bot.ingest.parseahead import ParseAhead
from bot.ingest.parsepool import (
    _READY,
    DEFAULT_TIME_LIMIT,
    START_TIMEOUT,
    FeedParser,
    ParsePool,
    _Job,
    _kill,
    _serve,
    _Worker,
)
from bot.models import FetchResult, ParseResult

__all__ = ["ForkedParsePool"]


def _forked_worker(conn: Connection, inherited: list[Connection], parent: int) -> None:
    """A forked worker's life: tied to the poll's process, then `_serve` as any worker."""
    for other in inherited:  # this process's ends of the pipes: not the worker's to hold
        other.close()
    # Without prctl, the end of the pipe still ends an idle worker.
    if die_with_parent(parent):
        _serve(conn)


class ForkedParsePool(ParsePool):
    """A `ParsePool` whose first `workers` are forked from this process now (see above)."""

    def __init__(self, workers: int, *, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        super().__init__(workers, time_limit=time_limit)
        self._unready: set[_Worker] = set()
        self._ahead: ParseAhead | None = None
        self.forked = can_fork_workers()
        if self.forked:
            self._fork_all()

    def _fork_all(self) -> None:
        import bot.ingest.parse  # noqa: F401  (the workers inherit it: see the docstring)

        context = multiprocessing.get_context("fork")
        before_fork()
        ends: list[Connection] = []
        for n in range(self.workers):
            parent, child = context.Pipe()
            ends.append(parent)
            process = context.Process(
                target=_forked_worker,
                args=(child, list(ends), os.getpid()),
                name=f"briefbot-parse-f{n + 1}",
                daemon=True,
            )
            try:
                process.start()
            except OSError:
                parent.close()
                break  # no process to be had: the pool starts one when a document needs it
            finally:
                child.close()
            worker = _Worker(process, parent)
            self._unready.add(worker)
            self._all.add(worker)
            self._idle.append(worker)

    def _run(self, worker: _Worker, job: _Job) -> ParseResult | None:
        if worker in self._unready:
            try:
                ready = worker.conn.poll(START_TIMEOUT) and worker.conn.recv() == _READY
            except (EOFError, OSError):
                ready = False
            self._unready.discard(worker)
            if not ready:
                self._discard(worker)
                return None
        return super()._run(worker, job)

    def parse_ahead(self, *, summary_max_chars: int) -> ParseAhead:
        """Parse documents offered from now on as they come (bot/ingest/parseahead.py); a
        later `parse` of one of them is answered with its result. Called once a thread
        may run (the workers are forked)."""
        self._ahead = ParseAhead(self._parse_fetched, summary_max_chars=summary_max_chars)
        return self._ahead

    def _parse_fetched(
        self, result: FetchResult, fetched_at: datetime, summary_max_chars: int
    ) -> ParseResult:
        # The pool's own parse: this class's would wait for the claim this parse holds.
        return ParsePool.parse(
            self,
            result.feed_id,
            result.body,
            headers=result.headers,
            url=result.final_url or result.url,
            fetched_at=fetched_at,
            summary_max_chars=summary_max_chars,
        )

    def parsed_ahead(
        self, feed_id: str, body: bytes, *, url: str, summary_max_chars: int
    ) -> ParseResult | None:
        ahead = self._ahead
        if ahead is None:
            return None
        return ahead.done(feed_id, body, url=url, summary_max_chars=summary_max_chars)

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
        done = self.parsed_ahead(feed_id, body, url=url, summary_max_chars=summary_max_chars)
        if done is not None:
            return done
        return super().parse(
            feed_id,
            body,
            headers=headers,
            url=url,
            fetched_at=fetched_at,
            summary_max_chars=summary_max_chars,
        )

    def helper(self) -> FeedParser:
        """A parser for a thread of the poll's own process (bot/ingest/poll.py): small
        documents here (as bot/ingest/inlinefirst.py's), larger ones in the workers."""
        return InlineFirstParser(self.workers, time_limit=self.time_limit, pool=self)

    def close(self) -> None:
        with self._cond:
            unready = [w for w in self._idle if w in self._unready]
        for worker in unready:  # still importing: nothing to wait for
            _kill(worker)
        super().close()
        if self._ahead is not None:
            self._ahead.stop()  # its parse under way ended with the workers
