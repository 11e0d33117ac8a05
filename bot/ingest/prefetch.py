"""Downloads started in a forked child before a one-shot poll has opened its store.

A `briefbot poll` process spends a third of a second before its first
request could go out: importing the runtime and loading the store's item
shards (the dedup keys), CPU work on the process's one GIL. The downloads
need neither: only the feeds due and their conditional-GET validators, which
the caller's `plan` reads from the data directory's small state file. So
`Prefetch.start` forks a child at once (the process has one thread and no
store yet) that runs `plan`, then `fetch_feeds`, on the other core, and sends
each `FetchResult` down a pipe as it ends; the poll's own process meanwhile
imports and opens the store, then takes the results (`fetch`, with
`fetch_feeds`'s signature, which bot/ingest/poll.py calls instead).

Not obvious:

- The child writes nothing: no lock, no store. `plan` reads without the lock
  (a commit replaces the state file by rename); `fetch` compares the child's
  feeds and states with those the poll read under the lock and, if they
  differ (a poll committed in between, a feed changed from Slack), kills the
  child and fetches itself: a request with a stale ETag is never trusted.
- A feed whose result never came (the child died, or failed in `plan`) is
  fetched by `fetch` itself, so a dead child costs time, never a feed.
- The child's results are written to the pipe by a thread of its own
  (`_Outbox`): a pipe holds 64 KB, the poll reads only once its store is
  open, and a write that waited there held up every download in the child's
  event loop (about 50 ms of a 100-feed poll, BENCHMARKS.md).
- Once the poll's parse workers are forked, `listen` can read the results as
  they come, on a thread, so that they are parsed while the store opens
  (bot/ingest/parseahead.py); `fetch` then takes them from that thread.
- Forked as bot/ingest/forking.py says (one thread, Linux; the child dies
  with the poll), and ended with `os._exit`: nothing of the poll's teardown
  (atexit, buffers) runs twice. Otherwise `start` returns None and the poll
  fetches.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

from bot.ingest.fetch.client import SYSTEM_NETWORK, fetch_feeds
from bot.ingest.forking import before_fork, can_fork_workers, die_with_parent
from bot.models import FeedConfig, FeedState, FetchResult, Settings

__all__ = ["Plan", "Prefetch"]

log = logging.getLogger(__name__)

# What `listen`'s thread passes on when the pipe ended without the child's last message.
_ENDED = object()

#: What the child fetches: the feeds due and the states they are fetched with.
Plan = Callable[[], tuple[list[FeedConfig], dict[str, FeedState]]]


def _child(conn: Connection, plan: Plan, settings: Settings, parent: int) -> None:
    if not die_with_parent(parent):
        return
    feeds, states = plan()
    conn.send((feeds, {f.id: states[f.id] for f in feeds if f.id in states}))
    outbox = _Outbox(conn)
    try:
        fetch_feeds(feeds, states, settings, on_result=outbox.put)
    finally:
        outbox.close()


def _run_child(conn: Connection, plan: Plan, settings: Settings, parent: int) -> None:
    status = 0
    try:
        _child(conn, plan, settings, parent)
    except BaseException:  # the poll fetches what did not come
        log.exception("prefetch: the downloads' process failed")
        status = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


class _Outbox:
    """The child's results, sent down the pipe by a thread, so that a full pipe waits
    there and not in the event loop (see the module docstring); None ends them."""

    def __init__(self, conn: Connection) -> None:
        self._queue: queue.SimpleQueue[FetchResult | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._send, args=(conn,), name="briefbot-prefetch-send", daemon=True
        )
        self._thread.start()

    def put(self, result: FetchResult) -> None:
        self._queue.put(result)

    def _send(self, conn: Connection) -> None:
        while True:
            result = self._queue.get()
            try:
                conn.send(result)
            except OSError:  # the poll closed its end: it wants no more
                return
            if result is None:
                return

    def close(self) -> None:
        """Send the end, once every result before it is sent."""
        self._queue.put(None)
        self._thread.join()


class Prefetch:
    """A forked child fetching the feeds `plan` names (see the module docstring)."""

    def __init__(self, process: Any, conn: Connection) -> None:
        self._process = process
        self._conn = conn
        self._inbox: queue.SimpleQueue[object] | None = None  # `listen`'s
        self._listener: threading.Thread | None = None

    def listen(self, on_result: Callable[[FetchResult], None]) -> None:
        """Take the child's messages from now on, on a thread of this process, and pass each
        result to `on_result` (which must not block) as it arrives; `fetch` reads them from
        there. For the parse ahead (bot/ingest/parseahead.py); call it only once threads may
        run, every fork of the poll done."""
        inbox: queue.SimpleQueue[object] = queue.SimpleQueue()

        def run() -> None:
            try:
                while (message := self._conn.recv()) is not None:
                    inbox.put(message)
                    if isinstance(message, FetchResult):
                        try:
                            on_result(message)
                        except Exception:
                            log.exception("prefetch: a listener failed")
            except (EOFError, OSError):
                message = _ENDED
            inbox.put(message)

        self._inbox = inbox
        self._listener = threading.Thread(target=run, name="briefbot-prefetch-receive", daemon=True)
        self._listener.start()

    def _next(self) -> Any:
        """The child's next message, from the pipe or from `listen`'s thread."""
        if self._inbox is None:
            return self._conn.recv()
        message = self._inbox.get()
        if message is _ENDED:
            self._inbox.put(message)  # for every later read too
            raise EOFError
        return message

    @classmethod
    def start(cls, plan: Plan, settings: Settings) -> Prefetch | None:
        """Fork the child now, or None where it cannot be forked (the poll fetches)."""
        if not can_fork_workers():
            return None
        context = multiprocessing.get_context("fork")
        before_fork()  # the child's collections leave what it inherits alone (forkparse.py)
        ours, theirs = context.Pipe(duplex=False)
        process = context.Process(
            target=_run_child,
            args=(theirs, plan, settings, os.getpid()),
            name="briefbot-prefetch",
            daemon=True,
        )
        try:
            process.start()
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        return cls(process, ours)

    def fetch(
        self,
        feeds: Sequence[FeedConfig],
        states: Mapping[str, FeedState],
        settings: Settings,
        *,
        on_result: Callable[[FetchResult], None] | None = None,
        **network: Any,
    ) -> list[FetchResult]:
        """`fetch_feeds`, answered by the child where it fetched the same feeds the same way."""
        wanted = list(feeds)
        ours = (
            network.get("resolver", SYSTEM_NETWORK.resolver),
            network.get("policy", SYSTEM_NETWORK.policy),
        )
        theirs = SYSTEM_NETWORK.resolver, SYSTEM_NETWORK.policy
        results: dict[str, FetchResult] = {}
        if ours == theirs and self._same_plan(wanted, states):  # else: fetched here
            self._receive(results, on_result)
        self.close()
        missing = [f for f in wanted if f.id not in results]
        if missing:
            for result in fetch_feeds(missing, states, settings, on_result=on_result, **network):
                results[result.feed_id] = result
        return [results[f.id] for f in wanted]

    def _same_plan(self, feeds: list[FeedConfig], states: Mapping[str, FeedState]) -> bool:
        """Whether the child fetches these feeds with these states (its first message)."""
        try:
            planned, used = self._next()
        except (EOFError, OSError):
            return False
        return bool(
            planned == feeds and used == {f.id: states[f.id] for f in feeds if f.id in states}
        )

    def _receive(
        self, results: dict[str, FetchResult], on_result: Callable[[FetchResult], None] | None
    ) -> None:
        """The child's results as they come; what it sent before dying is good."""
        try:
            while (result := self._next()) is not None:
                results[result.feed_id] = result
                if on_result is not None:
                    on_result(result)
        except (EOFError, OSError):
            log.warning("prefetch: the downloads' process ended early; fetching the rest here")

    def close(self) -> None:
        """End the child (at once if it is still at work) and reap it."""
        if self._process.is_alive():  # first: a child still sending would log a closed pipe
            self._process.kill()
        self._process.join()
        if self._listener is not None:
            self._listener.join()  # the child is gone: its pipe's end has come
        self._conn.close()
