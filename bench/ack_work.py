"""The ack scenario's busy mode: polls of a 1,000-feed farm and digests, in the bot's process.

`BackgroundWork(runtime, farm, poster)` runs, each on a thread of its own
as `briefbot run`'s scheduler would, until stopped:

- polls: `Runtime.poll` of the farm's feeds (bench/feedfarm.py, in a process
  of its own, each answer after 20 ms). The first cycle is the farm's first
  poll (every feed new: some 70,000 items parsed in the parse workers,
  stored, story-linked, matched and indexed for search); before each later
  cycle `CHANGED` of the feeds get new items (a steady cycle: conditional
  GETs, 304s for the rest);
- digests: `Runtime.send_digest` to a channel that never had one (so each
  run selects from the whole store and renders a full digest), posted to the
  fake Slack Web API through the real Deliverer.

`done` is set once `min_cycles` polls have finished (or the work failed: `errors`
says what).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time as clock_time

from bench.feedfarm import FarmProcess
from bot.app.runtime import Runtime
from bot.config.model import DigestConfig
from bot.deliver.ports import Poster

__all__ = ["CHANGED", "BackgroundWork"]

CHANGED = 0.10


@dataclass
class BackgroundWork:
    runtime: Runtime
    farm: FarmProcess
    poster: Poster
    feed_ids: list[str]
    min_cycles: int = 3
    cycles: list[float] = field(default_factory=list)
    new_items: list[int] = field(default_factory=list)
    failed_feeds: set[str] = field(default_factory=set)
    digests: list[float] = field(default_factory=list)
    digest_statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def _poll_loop(self) -> None:
        while not self.stop.is_set():
            if self.cycles:
                self.farm.advance(CHANGED, seed=len(self.cycles))
            started = time.perf_counter()
            try:
                reports = self.runtime.poll(feed_ids=self.feed_ids, force=True)
            except Exception as exc:
                self.errors.append(f"poll: {exc!r}")
                self.done.set()
                return
            self.cycles.append(time.perf_counter() - started)
            self.new_items.append(sum(r.new_items for r in reports))
            self.failed_feeds.update(r.feed_id for r in reports if r.status == "error")
            self._check_done()

    def _digest_loop(self) -> None:
        while not self.stop.is_set():
            channel = f"C0DIGEST{len(self.digests):04d}"
            digest = DigestConfig(channel=channel, at=clock_time(8, 30), timezone="UTC")
            started = time.perf_counter()
            try:
                outcome = self.runtime.send_digest(digest, self.poster)
            except Exception as exc:
                self.errors.append(f"digest: {exc!r}")
                self.done.set()
                return
            self.digests.append(time.perf_counter() - started)
            self.digest_statuses[outcome.status] = self.digest_statuses.get(outcome.status, 0) + 1

    def _check_done(self) -> None:
        # Polls only: a first digest at 100,000 items can outlast many bursts; it is
        # running meanwhile either way, and how many finished is reported.
        if len(self.cycles) >= self.min_cycles:
            self.done.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[BackgroundWork]:
        threads = [
            threading.Thread(target=self._poll_loop, name="bench-poller", daemon=True),
            threading.Thread(target=self._digest_loop, name="bench-digests", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in threads:
                thread.join()
