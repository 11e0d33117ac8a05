"""The orchestrator: strings fetch -> parse -> store together for one poll cycle.

The scheduler, the Slack app and the CLI only call functions of this module;
none of them talks to fetch, parse or the store's write path directly.

Durability rule: a poll cycle does all its store work in memory and ends with
exactly one `store.commit()`. A poll that reported "stored N items" has
committed them; a crash before that loses nothing that was reported, and the
next poll refetches (the feed state with the new ETag is written last).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

from bot.config import Config
from bot.entitylist import annotate_item
from bot.feedstate import is_due, next_feed_state
from bot.fetch import fetch_feeds
from bot.models import UTC, FeedConfig, FetchResult, Item, PollReport
from bot.parse import parse_feed
from bot.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def select_due_feeds(
    config: Config,
    store: Store,
    *,
    now: datetime,
    feed_ids: Collection[str] | None = None,
    force: bool = False,
) -> list[FeedConfig]:
    """The enabled feeds (optionally only `feed_ids`) whose next poll is due."""
    states = store.feed_states()
    chosen = []
    for feed in config.enabled_feeds:
        if feed_ids is not None and feed.id not in feed_ids:
            continue
        if force or is_due(states.get(feed.id), now):
            chosen.append(feed)
    return chosen


def poll_feeds(
    config: Config,
    store: Store,
    *,
    feed_ids: Collection[str] | None = None,
    force: bool = False,
    clock: Clock = utc_now,
    on_report: Callable[[PollReport], None] | None = None,
) -> list[PollReport]:
    """Run one poll cycle over the due feeds; return one report per feed polled.

    Fetches run concurrently (see fetch.py); each finished fetch is parsed and
    stored on one worker thread while the others are still downloading, so the
    event loop never waits on parsing. Ends with a single durable commit.
    """
    now = clock()
    feeds = select_due_feeds(config, store, now=now, feed_ids=feed_ids, force=force)
    if not feeds:
        return []
    by_id = {feed.id: feed for feed in feeds}
    states = store.feed_states()
    reports: list[PollReport] = []
    pending: queue.Queue[FetchResult | None] = queue.Queue()

    def work() -> None:
        while (result := pending.get()) is not None:
            try:
                report = ingest_result(config, store, by_id[result.feed_id], result, clock=clock)
            except Exception as exc:  # one feed's surprise must not stop the others
                log.exception("feed %s: ingest failed", result.feed_id)
                report = PollReport(result.feed_id, "error", error=f"internal error: {exc}")
            reports.append(report)
            if on_report is not None:
                on_report(report)

    worker = threading.Thread(target=work, name="briefbot-ingest", daemon=True)
    worker.start()
    try:
        fetch_feeds(feeds, states, config.settings, on_result=pending.put)
    finally:
        pending.put(None)
        worker.join()
    store.commit()
    order = {feed.id: n for n, feed in enumerate(feeds)}
    reports.sort(key=lambda r: order[r.feed_id])
    return reports


def ingest_result(
    config: Config,
    store: Store,
    feed: FeedConfig,
    result: FetchResult,
    *,
    clock: Clock = utc_now,
) -> PollReport:
    """Parse one fetch result, keep its new items, and advance the feed's state.

    The first successful poll of a feed stores its items as backlog (seen, but
    never alerted or digested), so adding a feed does not flood anyone. Items
    dated before the retention window are backlog too: an old entry that a feed
    re-publishes is not news.
    """
    started = time.monotonic()
    now = clock()
    prev = store.get_feed_state(feed.id)
    new_items: list[Item] = []
    seen = 0
    parse_error = parse_warning = None
    backlog = prev is None or not prev.first_poll_done
    if result.ok and not result.not_modified:
        parsed = parse_feed(
            feed.id,
            result.body,
            headers=result.headers,
            url=result.final_url or result.url,
            fetched_at=now,
            summary_max_chars=config.settings.summary_max_chars,
        )
        parse_error, parse_warning = parsed.error, parsed.warning
        if parse_error is None:
            items = [annotate_item(i) for i in parsed.items]
            cutoff = now - timedelta(days=config.settings.retention_days)
            fresh = [i for i in items if i.published is None or i.published >= cutoff]
            stale = [i for i in items if i.published is not None and i.published < cutoff]
            new_items = store.add_items(fresh, now=now, backlog=backlog)
            new_items += store.add_items(stale, now=now, backlog=True)
            seen = len(parsed.items) - len(new_items)
    state = next_feed_state(
        prev,
        feed,
        result,
        now=now,
        settings=config.settings,
        parse_error=parse_error,
        parse_warning=parse_warning,
        new_items=len(new_items),
    )
    store.put_feed_state(state)
    if not result.ok:
        status, error = "error", result.error
    elif parse_error is not None:
        status, error = "error", parse_error
    else:
        status, error = ("not-modified" if result.not_modified else "ok"), None
    if error:
        log.warning("feed %s: %s", feed.id, error)
    return PollReport(
        feed_id=feed.id,
        status=status,
        new_items=len(new_items),
        seen_items=seen,
        backlog=backlog and bool(new_items),
        elapsed=result.elapsed + (time.monotonic() - started),
        error=error,
        warning=parse_warning,
        next_due=state.next_due,
    )


def count_stored(reports: Sequence[PollReport]) -> int:
    """Items stored by a cycle (backlog included)."""
    return sum(r.new_items for r in reports)
