"""Feed parsing in worker processes, so that a parse past its time limit can be stopped.

A thread cannot be killed: an abandoned in-process parse (bot/ingest/parse.py)
keeps a core busy, and the GIL the Slack handlers need, until it ends, which on
hostile input can be hours. `ParsePool` runs `parse_feed` in worker processes
instead and kills the worker of a parse that overruns, then starts another
when one is next needed. Parsing there also leaves the bot's own process (and
its GIL) to the Slack handlers and the scheduler.

Not obvious:

- Start method. The bot has threads (APScheduler, Bolt, the ingest threads), so
  forking it is unsafe. Workers come from the `forkserver` (a clean process
  started once, with bot.ingest.parse imported, that forks each worker: about
  15 ms a worker once it runs, 0.5 s to start it) where the platform has one,
  else from `spawn`. multiprocessing imports the main module in each worker:
  under the `briefbot` script that is the CLI (about 0.5 s and 18 MB more per
  worker started; workers live as long as the Runtime).
- Time. The limit counts from the moment the worker has the document, not the
  wait for a free worker, nor a new worker's start (it says when it is ready;
  one not ready within START_TIMEOUT is stopped and the document parsed
  in-process): a busy or loaded machine delays a parse, never fails it.
- Memory. A worker that parsed a document of RETIRE_AFTER_BYTES or more is
  retired after it: the memory of that parse (60 MB for 10 MB of articles,
  140 MB for 100,000 entries) would otherwise stay with the process.
- Crashes. A worker that dies under a document (killed from outside, out of
  memory) is replaced and the document tried once more, then reported.
- What a worker runs is `parse_feed` itself, so its result is the in-process
  one (ParseResult and Items pickle as they are). This module imports
  bot.ingest.parse only where it parses (a worker, `InProcessParser`): the
  service's own process, which hands documents to workers, never loads
  feedparser (30 ms of CPU; a one-shot `briefbot poll` loads it once, before
  forking its workers: bot/ingest/forkparse.py); DEFAULT_TIME_LIMIT repeats
  parse.py's (a test checks they agree).
- Signals. Workers ignore SIGINT and SIGTERM: Ctrl-C reaches the whole
  process group and systemd signals the whole service, while the bot finishes
  the poll in flight, then stops its workers itself. They are daemonic (an exit
  without `close` ends them); one whose bot died reads its pipe's end and exits.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Literal, Protocol

from bot.models import ParseResult

__all__ = [
    "FeedParser",
    "InProcessParser",
    "ParsePool",
    "open_parser",
    "resolve_workers",
]

log = logging.getLogger(__name__)

# A worker that parsed a document at least this large is retired afterwards.
RETIRE_AFTER_BYTES = 2 * 1024 * 1024
# How long a new worker gets to say it is ready (imports done) before it is given up.
START_TIMEOUT = 60.0
_READY = "ready"
# How long a worker asked to stop gets before it is killed.
_STOP_GRACE = 1.0
# parse.DEFAULT_TIME_LIMIT (tests/ingest/test_parsepool.py checks they agree).
DEFAULT_TIME_LIMIT = 20.0

_SHUTTING_DOWN = ParseResult(items=(), error="not parsed: the bot is shutting down")


class FeedParser(Protocol):
    """What a poll parses with: in this process, or in a pool of worker processes."""

    @property
    def concurrency(self) -> int:
        """How many parses can usefully run at once."""
        ...

    def parse(
        self,
        feed_id: str,
        body: bytes,
        *,
        headers: Mapping[str, str],
        url: str,
        fetched_at: datetime,
        summary_max_chars: int,
    ) -> ParseResult: ...

    def warm_up(self) -> None:
        """Get ready to parse, in the background: a poll calls it before it fetches."""
        ...

    def close(self) -> None: ...


def resolve_workers(setting: int | Literal["auto"]) -> int:
    """The `parse_workers` setting as a number: "auto" is one per core this process may use."""
    if setting != "auto":
        return setting
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def open_parser(workers: int, *, time_limit: float = DEFAULT_TIME_LIMIT) -> FeedParser:
    """A pool of `workers` processes, or parsing in this process when `workers` is 0."""
    if workers <= 0:
        return InProcessParser(time_limit=time_limit)
    return ParsePool(workers, time_limit=time_limit)


class InProcessParser:
    """`parse_feed` on the calling thread; an overrun is abandoned, not stopped (see parse.py)."""

    concurrency = 1

    def __init__(self, *, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        self.time_limit = time_limit

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
        from bot.ingest.parse import parse_feed

        return parse_feed(
            feed_id,
            body,
            headers=headers,
            url=url,
            fetched_at=fetched_at,
            summary_max_chars=summary_max_chars,
            time_limit=self.time_limit,
        )

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Job:
    feed_id: str
    body: bytes
    headers: dict[str, str]
    url: str
    fetched_at: datetime
    summary_max_chars: int


@dataclass(eq=False)
class _Worker:
    """One worker process and our end of its pipe.

    Its owner (the thread it was handed to, or `close` for an idle one) stops
    and reaps it; `close` may only kill it and await its exit meanwhile: the
    lock keeps the two apart.
    """

    process: BaseProcess
    conn: Connection
    lock: threading.Lock = field(default_factory=threading.Lock)
    reaped: bool = False


# A log line a worker wrote while parsing: (logger name, level, message).
_LogLine = tuple[str, int, str]


class _Collect(logging.Handler):
    """Keeps the warnings a parse logs, to send them to the bot with the result."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: list[_LogLine] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


def _serve(conn: Connection) -> None:
    """A worker's life: parse each job received, send the result back (with the warnings
    it logged, which the bot logs as its own); stop on None or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from bot.ingest.parse import parse_feed  # preloaded by the forkserver

    collected = _Collect()
    logging.getLogger().addHandler(collected)
    try:
        conn.send(_READY)  # imports done: the pool's time limit counts parsing only
    except OSError:  # the pool closed while this worker started (a short poll): nothing to do
        return
    while True:
        try:
            job: _Job | None = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        collected.lines = []
        result = parse_feed(
            job.feed_id,
            job.body,
            headers=job.headers,
            url=job.url,
            fetched_at=job.fetched_at,
            summary_max_chars=job.summary_max_chars,
            time_limit=None,  # the pool enforces the limit, by killing this process
        )
        conn.send((result, collected.lines))


def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["bot.ingest.parse"])
        return context
    return multiprocessing.get_context("spawn")


class ParsePool:
    """Up to `workers` parse processes, started when needed; see the module docstring."""

    def __init__(self, workers: int, *, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        if workers < 1:
            raise ValueError(f"a parse pool needs at least one worker, not {workers}")
        self.workers = workers
        self.time_limit = time_limit
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._names = itertools.count(1)
        self._closed = False

    @property
    def concurrency(self) -> int:
        return self.workers

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The process ids of the workers alive now (idle or parsing)."""
        with self._cond:
            return sorted(w.process.pid for w in self._all if w.process.pid is not None)

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
        """`parse_feed` in a worker; a parse past the time limit has its worker killed."""
        job = _Job(feed_id, bytes(body), dict(headers), url, fetched_at, summary_max_chars)
        # A worker that dies (killed from outside, out of memory) is replaced
        # once: the document gets a second worker, not a third.
        for _ in range(2):
            try:
                worker = self._acquire()
            except OSError as exc:  # no process to be had: parse here rather than not at all
                log.warning("feed %s: no parse worker (%s); parsing in-process", feed_id, exc)
                return InProcessParser(time_limit=self.time_limit).parse(
                    feed_id,
                    body,
                    headers=headers,
                    url=url,
                    fetched_at=fetched_at,
                    summary_max_chars=summary_max_chars,
                )
            if worker is None:
                return _SHUTTING_DOWN
            result = self._run(worker, job)
            if result is not None:
                return result
            if self.closed:
                return _SHUTTING_DOWN
            log.error("feed %s: the parse worker died", feed_id)
        return ParseResult(
            items=(), error="could not parse the feed: the parser process died (out of memory?)"
        )

    def parsed_ahead(
        self, feed_id: str, body: bytes, *, url: str, summary_max_chars: int
    ) -> ParseResult | None:
        """Its result if parsed before it was asked for: never here (see forkparse.py)."""
        return None

    def _run(self, worker: _Worker, job: _Job) -> ParseResult | None:
        """`job` on `worker`: its result, the too-slow error, or None when the worker died."""
        try:
            worker.conn.send(job)
            ready = worker.conn.poll(self.time_limit)
            reply: tuple[ParseResult, list[_LogLine]] | None = worker.conn.recv() if ready else None
        except (EOFError, OSError, ValueError):
            self._discard(worker)
            return None
        result = None
        if reply is not None:
            result, lines = reply
            for name, level, message in lines:
                # Logged here, so this process's handlers and redaction see it.
                logging.getLogger(name).log(level, "%s", message)
        if result is None:
            log.warning(
                "feed %s: parse stopped after %.1f s (worker %s killed)",
                job.feed_id,
                self.time_limit,
                worker.process.pid,
            )
            self._discard(worker)
            from bot.ingest.parse import too_slow_error

            return ParseResult(items=(), error=too_slow_error(self.time_limit))
        if len(job.body) >= RETIRE_AFTER_BYTES:
            self._discard(worker, gently=True)
        else:
            self._release(worker)
        return result

    def warm_up(self) -> None:
        """Start the missing workers now, on a thread, so that the first parse finds one ready.

        Starting the forkserver and a worker takes a few tenths of a second:
        started when the first download is done, that is the poll's wait.
        """
        threading.Thread(target=self._start_all, name="briefbot-parse-warm-up", daemon=True).start()

    def _start_all(self) -> None:
        started: list[_Worker] = []
        try:
            while True:
                with self._cond:
                    if self._closed or len(self._all) + self._starting >= self.workers:
                        break
                worker = self._acquire()
                if worker is None:
                    break
                started.append(worker)
        except OSError as exc:  # the parses will say so, and parse in-process
            log.debug("parse workers not started ahead: %s", exc)
        finally:
            for worker in started:
                self._release(worker)

    # ------------------------------------------------------------------ the workers

    def _acquire(self) -> _Worker | None:
        """An idle worker, a new one if fewer than `workers` exist, else wait; None once closed."""
        dead: list[_Worker] = []
        try:
            return self._idle_or_new(dead)
        finally:
            for worker in dead:
                _stop(worker, gently=False)

    def _idle_or_new(self, dead: list[_Worker]) -> _Worker | None:
        with self._cond:
            while True:
                if self._closed:
                    return None
                while self._idle:
                    worker = self._idle.pop()
                    if worker.process.is_alive():
                        return worker
                    self._all.discard(worker)  # died while idle (killed from outside)
                    dead.append(worker)
                if len(self._all) + self._starting < self.workers:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            worker = self._start()
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self._starting -= 1
            if not self.closed:
                self._all.add(worker)
                return worker
        _stop(worker, gently=False)  # the pool closed while it started
        return None

    def _start(self) -> _Worker:
        context = _context()  # not before a worker is started: it loads the forkserver's code
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(child,), name=f"briefbot-parse-{next(self._names)}", daemon=True
        )
        try:
            process.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        worker = _Worker(process, parent)
        try:
            ready = parent.poll(START_TIMEOUT) and parent.recv() == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            _stop(worker, gently=False)
            raise OSError(f"the parse worker did not start within {START_TIMEOUT:g} s")
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed:
                self._all.discard(worker)
            else:
                self._idle.append(worker)
                self._cond.notify()
                return
        _stop(worker, gently=True)

    def _discard(self, worker: _Worker, *, gently: bool = False) -> None:
        """Take `worker` out of the pool and stop it (killed unless `gently`); awaits its end."""
        with self._cond:
            self._all.discard(worker)
            self._cond.notify()
        _stop(worker, gently=gently)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to, busy ones killed. Awaits their exit."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            idle, busy = list(self._idle), [w for w in self._all if w not in self._idle]
            self._idle.clear()
            self._all.clear()
            self._cond.notify_all()
        for worker in busy:  # their threads reap them, on the end of the pipe this causes
            _kill(worker)
        for worker in idle:
            _stop(worker, gently=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(worker: _Worker, *, gently: bool) -> None:
    """End `worker`'s process (asked by a None job when `gently`, else killed) and reap it."""
    with worker.lock:
        if worker.reaped:
            return
        if gently and worker.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
            worker.process.join(_STOP_GRACE)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        worker.process.close()
        worker.reaped = True


def _kill(worker: _Worker) -> None:
    """Kill `worker`'s process and await its exit, leaving the reaping to its owner."""
    with worker.lock:
        if not worker.reaped:
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join()
