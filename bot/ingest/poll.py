"""One poll cycle: fetch the due feeds, parse them, and store what is new in one transaction.

The one ingest orchestrator. Fetches run concurrently (fetch/client.py); each
finished download is parsed while the others are still downloading, so the
event loop never waits on parsing: by one ingest thread per parse the parser
can run at once (a `FeedParser` from bot/ingest/parsepool.py: worker processes
that are killed at the time limit, or this process when none is given). A
one-shot poll forks its workers (bot/ingest/forkparse.py) and may have begun
its downloads in a forked child before the store was opened (`fetch`,
bot/ingest/prefetch.py); this process parses small documents too (`helper`):
beside the workers while the child downloads, else (its own event loop
fetching) once every download is in. Nothing is written while the network
is in use: the parsed items (minus those already stored) wait in memory, and
one short transaction at the end stores every feed's new items and state,
then runs `within` (story linking and matching, from the app) on them, so
that items, their story links, the alerts they raise and the match cursor
land together. A crash before that commit loses the cycle's
work, and the next cycle fetches it again (the ETags were not saved either).

The first successful poll of a feed stores its items as backlog (seen, never
alerted or digested), so adding a feed floods no one. Items dated before the
retention window are backlog too: an old entry a feed re-publishes is not news.

`probe_feed` fetches and parses one feed the same way and stores nothing
(`/brief feed add` tries a feed before saving it).
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.config.model import Config
from bot.config.redact import redact_text
from bot.ingest.entitylist import annotate_item
from bot.ingest.feedstate import next_feed_state, select_due_feeds
from bot.ingest.fetch.client import SYSTEM_NETWORK, Network, fetch_feeds
from bot.ingest.forkparse import ForkedParsePool
from bot.ingest.parsepool import FeedParser, InProcessParser
from bot.models import FeedConfig, FeedState, FetchResult, Item, PollReport
from bot.store.ports import Store, Transaction

__all__ = [
    "FeedOutcome",
    "FetchFeeds",
    "PollCycle",
    "count_stored",
    "poll_feeds",
    "probe_feed",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: How a cycle downloads: `fetch_feeds`, or a `briefbot poll`'s downloads begun
#: before its store was opened (bot/ingest/prefetch.py's `Prefetch.fetch`).
FetchFeeds = Callable[..., list[FetchResult]]


@dataclass
class FeedOutcome:
    """One feed's fetch and parse, before anything is stored."""

    feed: FeedConfig
    result: FetchResult
    fetched_at: datetime
    items: list[Item] = field(default_factory=list)  # parsed, not stored before the fetch
    parsed: int = 0  # entries read from the feed
    error: str | None = None  # the parse's, when the fetch worked
    warning: str | None = None
    elapsed: float = 0.0
    title: str = ""  # the feed's own title, when it parsed


@dataclass
class PollCycle:
    """What a poll cycle did: a report per feed polled, and the items it stored."""

    reports: list[PollReport]
    stored: list[Item]


def poll_feeds(
    config: Config,
    store: Store,
    *,
    feed_ids: Collection[str] | None = None,
    force: bool = False,
    clock: Clock,
    on_fetched: Callable[[str], None] | None = None,
    within: Callable[[Transaction, list[Item]], None] | None = None,
    network: Network = SYSTEM_NETWORK,
    parser: FeedParser | None = None,
    fetch: FetchFeeds | None = None,
) -> PollCycle:
    """Run one poll cycle over the due feeds (see the module docstring)."""
    states = store.feed_states.all()
    feeds = select_due_feeds(config, states, now=clock(), feed_ids=feed_ids, force=force)
    if not feeds:
        return PollCycle([], [])
    outcomes = fetch_and_parse(
        feeds,
        states,
        config,
        known=_known_now(store),
        clock=clock,
        on_fetched=on_fetched,
        network=network,
        parser=parser,
        fetch=fetch,
    )
    reports: list[PollReport] = []
    stored: list[Item] = []
    with store.transaction() as tx:
        for outcome in outcomes:
            report, new = record_outcome(tx, config, outcome)
            reports.append(report)
            stored += new
        if within is not None:
            within(tx, stored)
    return PollCycle(reports, stored)


#: Which of a feed's parsed entries are already stored: one question per feed (on
#: PostgreSQL one statement, where a question per entry was most of a cycle's storing).
KnownCheck = Callable[[Sequence[Item]], list[bool]]


def _known_now(store: Store) -> KnownCheck:
    """Known by its current keys. One known only by a former key goes on to `Items.add`,
    which gives the stored item its current keys (see bot/ingest/identity.py)."""

    def known(items: Sequence[Item]) -> list[bool]:
        return store.items.which_known(items, former=False)

    return known


def fetch_and_parse(
    feeds: Sequence[FeedConfig],
    states: Mapping[str, FeedState],
    config: Config,
    *,
    known: KnownCheck,
    clock: Clock,
    on_fetched: Callable[[str], None] | None = None,
    network: Network = SYSTEM_NETWORK,
    parser: FeedParser | None = None,
    fetch: FetchFeeds | None = None,
) -> list[FeedOutcome]:
    """Fetch `feeds` concurrently and parse each as it arrives; outcomes in feed order."""
    if parser is None:
        parser = InProcessParser(time_limit=config.settings.parse_timeout)
    parser.warm_up()  # worker processes start while the first downloads are under way
    by_id = {feed.id: feed for feed in feeds}
    outcomes: dict[str, FeedOutcome] = {}
    pending: queue.Queue[FetchResult | None] = queue.Queue()

    def work(using: FeedParser) -> None:
        while (result := pending.get()) is not None:
            feed = by_id[result.feed_id]
            try:
                outcomes[feed.id] = parse_outcome(
                    config, feed, result, known=known, now=clock(), parser=using
                )
            except Exception as exc:  # one feed's surprise must not stop the others
                log.exception("feed %s: ingest failed", feed.id)
                outcomes[feed.id] = FeedOutcome(
                    feed, result, clock(), error=f"internal error: {exc}"
                )
            if on_fetched is not None:
                on_fetched(feed.id)

    consumers, helper = _parsers(parser, len(feeds), downloads_elsewhere=fetch is not None)
    threads = [
        threading.Thread(target=work, args=(using,), name=name, daemon=True)
        for using, name in consumers
    ]
    for thread in threads:
        thread.start()
    try:
        (fetch or fetch_feeds)(
            feeds,
            states,
            config.settings,
            on_result=pending.put,
            resolver=network.resolver,
            policy=network.policy,
        )
    finally:
        helper = helper if sys.exc_info()[1] is None else None  # none for a failed cycle
        for _ in range(len(threads) + (helper is not None)):
            pending.put(None)
        if helper is not None:  # every download is in: parse what still waits, here
            work(helper)
        for thread in threads:
            thread.join()
    return [outcomes[feed.id] for feed in feeds if feed.id in outcomes]


def _parsers(
    parser: FeedParser, feeds: int, *, downloads_elsewhere: bool
) -> tuple[list[tuple[FeedParser, str]], FeedParser | None]:
    """The ingest threads' parsers and names, and the parser this thread uses once every
    download is in (None: none). See the module docstring for `helper`."""
    count = min(max(1, parser.concurrency), feeds)
    threads = [(parser, f"briefbot-ingest-{n}") for n in range(count)]
    helper = parser.helper() if isinstance(parser, ForkedParsePool) else None
    if helper is not None and downloads_elsewhere:  # no event loop here: parse now
        return [*threads, (helper, "briefbot-ingest-here")], None
    return threads, helper


def parse_outcome(
    config: Config,
    feed: FeedConfig,
    result: FetchResult,
    *,
    known: KnownCheck,
    now: datetime,
    parser: FeedParser,
) -> FeedOutcome:
    """Parse one fetch result; keep the items `known` does not recognise."""
    started = time.monotonic()
    outcome = FeedOutcome(feed, result, now)
    if result.ok and not result.not_modified:
        parsed = parser.parse(
            feed.id,
            result.body,
            headers=result.headers,
            url=result.final_url or result.url,
            fetched_at=now,
            summary_max_chars=config.settings.summary_max_chars,
        )
        outcome.error, outcome.warning = parsed.error, parsed.warning
        outcome.title = parsed.feed_title
        if parsed.error is None:
            outcome.parsed = len(parsed.items)
            flags = known(parsed.items)
            outcome.items = [
                annotate_item(i) for i, old in zip(parsed.items, flags, strict=True) if not old
            ]
    outcome.elapsed = result.elapsed + (time.monotonic() - started)
    return outcome


def probe_feed(
    feed: FeedConfig, config: Config, *, clock: Clock, network: Network = SYSTEM_NETWORK
) -> FeedOutcome:
    """Fetch and parse `feed` once, unconditionally, as a poll would; store nothing.

    The outcome's `result.error` or `error` says why it failed; otherwise
    `parsed` entries were read and `title` is the feed's own.
    """
    [outcome] = fetch_and_parse([feed], {}, config, known=_never, clock=clock, network=network)
    return outcome


def _never(items: Sequence[Item]) -> list[bool]:
    return [False] * len(items)


def record_outcome(
    tx: Transaction, config: Config, outcome: FeedOutcome
) -> tuple[PollReport, list[Item]]:
    """Store one feed's new items and its next state; return its report and the items stored."""
    feed, result, now = outcome.feed, outcome.result, outcome.fetched_at
    prev = tx.feed_states.get(feed.id)
    backlog = prev is None or not prev.first_poll_done
    cutoff = now - timedelta(days=config.settings.retention_days)
    fresh = [i for i in outcome.items if i.published is None or i.published >= cutoff]
    stale = [i for i in outcome.items if i.published is not None and i.published < cutoff]
    new_items = tx.items.add(fresh, now=now, backlog=backlog)
    new_items += tx.items.add(stale, now=now, backlog=True)
    state = next_feed_state(
        prev,
        feed,
        result,
        now=now,
        settings=config.settings,
        parse_error=outcome.error,
        parse_warning=outcome.warning,
        new_items=len(new_items),
    )
    if any(not item.backlog for item in new_items):
        # Kept here so `/brief status` need not scan the store for it.
        state = replace(state, last_new_item=now)
    tx.feed_states.put(state)
    return _report(outcome, state, backlog, new_items), new_items


def _report(
    outcome: FeedOutcome, state: FeedState, backlog: bool, new_items: list[Item]
) -> PollReport:
    result = outcome.result
    if not result.ok:
        status, error = "error", result.error
    elif outcome.error is not None:
        status, error = "error", outcome.error
    else:
        status, error = ("not-modified" if result.not_modified else "ok"), None
    if error:
        error = redact_text(error)  # the poll table and /brief poll show it
        log.warning("feed %s: %s", outcome.feed.id, error)
    return PollReport(
        feed_id=outcome.feed.id,
        status=status,
        new_items=len(new_items),
        seen_items=outcome.parsed - len(new_items),
        backlog=backlog and bool(new_items),
        elapsed=outcome.elapsed,
        error=error,
        warning=outcome.warning,
        next_due=state.next_due,
    )


def count_stored(reports: Sequence[PollReport]) -> int:
    """Items stored by a cycle (backlog included)."""
    return sum(r.new_items for r in reports)
