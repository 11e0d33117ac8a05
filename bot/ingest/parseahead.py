"""Parsing a one-shot poll's first downloads while its store is still opening.

In `briefbot poll` the downloads run in a forked child (prefetch.py) and the
parse worker is forked too (forkparse.py), both before the poll's own process
imports the runtime and opens its store (a tenth of a second or more of its
CPU). The documents that arrived meanwhile used to wait for the store: the
worker sat idle, then every document was parsed after it. `ParseAhead` takes
each changed document as the child's result arrives and parses it on the
worker, on a thread of its own (it waits on pipes, not on the GIL), while the
store opens, the latest arrival first. Once the store is open (`pause`) the
poll parses as before (bot/ingest/poll.py), its own process beside the worker,
and a parse of a document already parsed ahead (the same bytes object, URL and
summary length) is answered with that result, waiting for it if it is under
way (`done`). Each document is parsed once: whoever takes it first claims it.

The poll's checks are unchanged: the child's plan is compared with the store's
under the lock (prefetch.py), the items the store knows are dropped after the
parse, as always. A document parsed ahead whose result is not asked for (the
plan changed, and the poll fetched again) cost that parse, nothing else. Its
items carry the time it was parsed ahead, a fraction of a second earlier than
the poll would have given them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.models import FetchResult, ParseResult

__all__ = ["ParseAhead"]

# Parses one fetched document (the pool's own parse, as the poll would call it).
ParseNow = Callable[[FetchResult, datetime, int], ParseResult]


@dataclass(eq=False)
class _Claim:
    body: bytes
    url: str
    summary_max_chars: int
    finished: threading.Event = field(default_factory=threading.Event)
    result: ParseResult | None = None


class ParseAhead:
    """Changed documents parsed as they arrive, on a thread; see the module docstring."""

    def __init__(self, parse_now: ParseNow, *, summary_max_chars: int) -> None:
        self._parse_now = parse_now
        self._summary_max_chars = summary_max_chars
        self._cond = threading.Condition()
        self._claims: dict[str, _Claim] = {}
        self._offered: list[FetchResult] = []
        self._taking = True
        self._thread = threading.Thread(target=self._run, name="briefbot-parse-ahead", daemon=True)
        self._thread.start()

    def offer(self, result: FetchResult) -> None:
        """A result just arrived (never blocks): parsed here if it brought a document."""
        if result.ok and not result.not_modified and result.body:
            with self._cond:
                self._offered.append(result)
                self._cond.notify()

    def pause(self) -> None:
        """The poll parses from now on: the document under way is finished, no other begun."""
        with self._cond:
            self._taking = False
            self._cond.notify()

    def stop(self) -> None:
        self.pause()
        self._thread.join()

    def done(
        self, feed_id: str, body: bytes, *, url: str, summary_max_chars: int
    ) -> ParseResult | None:
        """The result of this very document parsed ahead (waited for if under way), or None.

        None also claims it, so that it is not parsed ahead after all: the caller parses it.
        """
        with self._cond:
            claim = self._claims.get(feed_id)
            if claim is None:
                claim = self._claims[feed_id] = _Claim(body, url, summary_max_chars)
                claim.finished.set()
                return None
        same = claim.body is body and claim.url == url
        if not same or claim.summary_max_chars != summary_max_chars:
            return None
        claim.finished.wait()
        return claim.result

    def _next(self) -> tuple[FetchResult, _Claim] | None:
        """The latest document offered and not claimed, claimed; None once paused.

        The latest: the poll takes the results in the order they came, so the one under
        way here when it starts is the one it reaches last."""
        with self._cond:
            while True:
                while self._taking and not self._offered:
                    self._cond.wait()
                if not self._taking:
                    return None
                result = self._offered.pop()
                if result.feed_id not in self._claims:
                    url = result.final_url or result.url
                    claim = _Claim(result.body, url, self._summary_max_chars)
                    self._claims[result.feed_id] = claim
                    return result, claim

    def _run(self) -> None:
        while (taken := self._next()) is not None:
            result, claim = taken
            try:
                claim.result = self._parse_now(result, datetime.now(UTC), self._summary_max_chars)
            except Exception:  # the poll parses it again, and says what went wrong
                claim.result = None
            finally:
                claim.finished.set()
