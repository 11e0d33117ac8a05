"""A feed's next state after one poll: health, validators, and when to poll again.

Pure arithmetic over `FeedState`, `FetchResult` and `Settings`; no I/O. Also
which feeds a poll asks for (`select_due_feeds`: enabled, and due).

Decisions worth knowing:
- A 304 is a success. A 200 whose body is not a feed (`parse_error`) is a
  failure, and its new ETag/Last-Modified are NOT kept: otherwise the next
  poll would get a 304 and the broken document would never be read again.
- After n consecutive failures the wait is the longest of the feed's interval,
  the server's Retry-After, and the backoff base * 2**(n-1). The backoff is
  capped at `backoff_max_seconds`, then jittered by ±20% (so feeds that failed
  together do not retry together), and the jittered value is capped again so
  the cap is a promise.
- Retry-After and Cache-Control max-age are honoured only up to
  `backoff_max_seconds` too: a server cannot silence a feed for a year.
- `last_error` is cleared by a success (the health view shows current trouble);
  `warning` (a malformed but readable feed) is replaced by each parse and kept
  across a 304, since the document it describes has not changed.
- Both are stored and shown to every workspace member (`/brief status`), so
  they go through `redact_text`: no feed URL credential is stored, whoever
  worded the text.
- `body_bytes` is the size of the last document that came (a 200, even one
  that did not parse): the fetcher asks for the largest feeds first
  (bot/ingest/fetch/client.py `_largest_first`).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from bot.config.model import Config
from bot.config.redact import redact_text
from bot.models import FeedConfig, FeedState, FetchResult, Settings, replace

__all__ = ["JITTER", "backoff_seconds", "is_due", "next_feed_state", "select_due_feeds"]

# Relative spread of the backoff delay (±20%).
JITTER = 0.2


def next_feed_state(
    prev: FeedState | None,
    feed: FeedConfig,
    result: FetchResult,
    *,
    now: datetime,
    settings: Settings,
    parse_error: str | None = None,
    parse_warning: str | None = None,
    new_items: int = 0,
    rng: random.Random | None = None,
) -> FeedState:
    """The state to store for `feed` after `result` (and its parse) at `now`."""
    base = prev if prev is not None else FeedState(feed_id=feed.id)
    cap = float(settings.backoff_max_seconds)
    interval = float(feed.interval_seconds)
    size = len(result.body) if result.ok and not result.not_modified else base.body_bytes
    base = replace(base, items_stored=base.items_stored + max(0, new_items), body_bytes=size)

    if not result.ok or parse_error is not None:
        failures = base.consecutive_failures + 1
        backoff = backoff_seconds(failures, settings, rng)
        retry_after = min(result.retry_after or 0.0, cap)
        wait = max(interval, retry_after, backoff)
        failing_since = base.failing_since if base.consecutive_failures > 0 else None
        return replace(
            base,
            last_attempt=now,
            last_error=_failure_text(result, parse_error),
            last_status=result.status_code,
            consecutive_failures=failures,
            failing_since=failing_since or now,
            next_due=now + timedelta(seconds=wait),
            warning=redact_text(parse_warning) if parse_warning is not None else base.warning,
        )

    max_age = min(result.max_age or 0.0, cap)
    if result.not_modified:
        etag = result.etag or base.etag
        last_modified = result.last_modified or base.last_modified
        warning = base.warning
    else:
        etag, last_modified = result.etag, result.last_modified
        warning = redact_text(parse_warning) if parse_warning is not None else None
    return replace(
        base,
        last_attempt=now,
        last_success=now,
        last_error=None,
        last_status=result.status_code,
        consecutive_failures=0,
        failing_since=None,
        etag=etag,
        last_modified=last_modified,
        next_due=now + timedelta(seconds=max(interval, max_age)),
        warning=warning,
        # A 304 carries no document, so it cannot complete the first poll.
        first_poll_done=base.first_poll_done or not result.not_modified,
    )


def backoff_seconds(failures: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Delay after `failures` consecutive failures: capped exponential, jittered."""
    if failures <= 0:
        return 0.0
    cap = float(settings.backoff_max_seconds)
    # Cap the exponent first: 2**n for a feed dead for months is a huge int.
    exponent = min(failures - 1, 62)
    delay = min(settings.backoff_base_seconds * float(2**exponent), cap)
    spread = (rng or random).uniform(1.0 - JITTER, 1.0 + JITTER)
    return min(delay * spread, cap)


def is_due(state: FeedState | None, now: datetime) -> bool:
    """Whether a feed should be polled at `now` (never polled counts as due)."""
    if state is None or state.next_due is None:
        return True
    return now >= state.next_due


def select_due_feeds(
    config: Config,
    states: Mapping[str, FeedState],
    *,
    now: datetime,
    feed_ids: Collection[str] | None = None,
    force: bool = False,
) -> list[FeedConfig]:
    """The enabled feeds (optionally only `feed_ids`) whose next poll is due."""
    return [
        feed
        for feed in config.enabled_feeds
        if (feed_ids is None or feed.id in feed_ids) and (force or is_due(states.get(feed.id), now))
    ]


def _failure_text(result: FetchResult, parse_error: str | None) -> str:
    if not result.ok:
        return redact_text(result.error or "fetch failed (no detail)")
    # parse.py words its errors for the operator already ("malformed XML ...").
    return redact_text(parse_error or "not a readable feed")
