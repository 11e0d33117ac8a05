"""The orchestrator: strings the stages together for polls, alerts, digests and search.

The scheduler, the Slack app and the CLI only call this module; none of them
talks to fetch, parse, match or the store's write path directly.

Durability rule: a poll cycle does all its store work in memory and ends with
exactly one `store.commit()`: the new items, their story links, the alerts they
raised and the match cursor land together. Item shards are written before
`state.json` (see store.py), so a crash between the two leaves items whose
alerts were never queued; the match cursor (kept in `state.json`) is then
behind them and the next cycle matches them. Nothing is lost or queued twice.

Deliveries to Slack are recorded as "in flight" (committed) before the post
and finished (committed) after Slack accepted it. After a crash in between,
the message metadata key is looked up in the channel's history before posting
again (see slack/deliver.py), so a restart neither loses nor repeats a message.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.brief.alerts import (
    due_alerts,
    enqueue_alerts,
    get_match_cursor,
    mark_delivered,
    prune_sent,
    set_match_cursor,
)
from bot.brief.digest import build_digest_view
from bot.brief.match import SubscriptionMatcher
from bot.brief.schedule import missed_digest
from bot.brief.subscriptions import list_subscriptions
from bot.config.model import Config, DigestConfig
from bot.find.search import SearchIndex, SearchResults
from bot.find.stories import DEFAULT_RETENTION as STORY_HORIZON
from bot.find.stories import StoryIndex, link_extras
from bot.ingest.entitylist import annotate_item
from bot.ingest.feedstate import is_due, next_feed_state
from bot.ingest.fetch.client import fetch_feeds
from bot.ingest.parse import parse_feed
from bot.models import UTC, FeedConfig, FeedState, FetchResult, Item, PollReport, SlackMessage
from bot.render.renderer import FeedStatusRow, Renderer
from bot.store.tinydb.engine import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Store record tables owned by this module.
DIGEST_TABLE = "digests"  # channel -> {"seq", "last_sent", "inflight"}
INFLIGHT_TABLE = "inflight_alerts"  # delivery key -> {"owner", "channel", "since_ts", "keys"}
DELIVERY_ERRORS_TABLE = "delivery_errors"  # channel/owner -> {"error", "at"}

# Items listed in one alert message; the rest are counted ("and N more").
ALERT_ITEMS_PER_MESSAGE = 10
# `latest` looks at most this many of the newest stored items.
LATEST_SCAN_LIMIT = 50_000
# A channel seen for the first time gets the items of this window, not all history.
FIRST_DIGEST_LOOKBACK = timedelta(days=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Poster(Protocol):
    """What the pipeline needs from the Slack delivery layer (slack/deliver.py)."""

    def post(
        self,
        channel: str,
        messages: Sequence[SlackMessage],
        *,
        metadata: Any = None,
        resume: Any = None,
    ) -> Any: ...

    def open_dm(self, user_id: str) -> str: ...

    def already_delivered(self, channel: str, key: str, since_ts: str | float) -> bool: ...

    def find_posted(self, channel: str, key: str, since_ts: str | float) -> Any: ...


# --------------------------------------------------------------------------- polling


def select_due_feeds(
    config: Config,
    store: Store,
    *,
    now: datetime,
    feed_ids: Collection[str] | None = None,
    force: bool = False,
    states: Mapping[str, FeedState] | None = None,
) -> list[FeedConfig]:
    """The enabled feeds (optionally only `feed_ids`) whose next poll is due."""
    states = store.feed_states() if states is None else states
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
    on_stored: Callable[[list[Item]], None] | None = None,
    commit: bool = True,
) -> list[PollReport]:
    """Run one poll cycle over the due feeds; return one report per feed polled.

    Fetches run concurrently (see fetch.py); each finished fetch is parsed and
    stored on one worker thread while the others are still downloading, so the
    event loop never waits on parsing. `on_stored` sees each feed's newly stored
    items on that thread. Ends with a single durable commit unless `commit` is
    False (the caller then commits, with more work in the same write).
    """
    now = clock()
    states = store.feed_states()
    feeds = select_due_feeds(config, store, now=now, feed_ids=feed_ids, force=force, states=states)
    if not feeds:
        return []
    by_id = {feed.id: feed for feed in feeds}
    reports: list[PollReport] = []
    pending: queue.Queue[FetchResult | None] = queue.Queue()

    def work() -> None:
        while (result := pending.get()) is not None:
            try:
                report = ingest_result(
                    config, store, by_id[result.feed_id], result, clock=clock, on_stored=on_stored
                )
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
    if commit:
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
    on_stored: Callable[[list[Item]], None] | None = None,
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
            if new_items and on_stored is not None:
                on_stored(new_items)
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


# --------------------------------------------------------------------------- the runtime


@dataclass
class DispatchReport:
    """What one alert dispatch did."""

    delivered: int = 0  # alerts delivered
    messages: int = 0  # Slack messages posted
    failed_owners: dict[str, str] = field(default_factory=dict)  # owner -> error


@dataclass
class DigestOutcome:
    """What one digest run did: "sent", "skipped" (nothing new), "already-sent" or "failed"."""

    channel: str
    status: str
    items: int = 0
    error: str | None = None
    messages: tuple[SlackMessage, ...] = ()


@dataclass
class _PartialOutcome:
    outcome: DigestOutcome
    scheduled_for: datetime

    @property
    def status(self) -> str:
        return self.outcome.status


class Runtime:
    """The bot's long-lived state beside the store, and every job it runs.

    Holds the configuration, the store, the story index (same story from
    several feeds), the search index and the renderer. One lock serializes the
    jobs that write (poll, dispatch, digest), so a Slack-triggered poll and a
    scheduled one never interleave; searches don't take it.
    """

    def __init__(self, config: Config, store: Store, *, clock: Clock = utc_now) -> None:
        from bot.config.overrides import effective_config

        self.base_config = config  # feeds.yaml as loaded; `config` adds changes made from Slack
        self.config = effective_config(config, store)
        self.store = store
        # Called (no arguments) after `refresh_config`, e.g. to re-sync scheduler jobs.
        self.config_listeners: list[Callable[[], None]] = []
        self.clock = clock
        self.lock = threading.RLock()
        self._stories_lock = threading.Lock()
        self._closed = False
        self.renderer = Renderer(self.config.settings.templates_dir, feed_names=self.feed_names())
        since = clock() - STORY_HORIZON
        self.stories = StoryIndex.build(item for item in store.iter_items() if item.when >= since)
        self._search: SearchIndex | None = None

    @property
    def search_index(self) -> SearchIndex:
        """The search index, built in the background on first use (see search.py)."""
        with self.lock:
            if self._search is None:
                self._search = SearchIndex(
                    feed_tags=self.feed_tags(), load_items=self.store.get_items_by_seq
                )
                self._search.build_in_background(self.store.iter_items)
            return self._search

    @classmethod
    def open(cls, config: Config, *, clock: Clock = utc_now) -> Runtime:
        store = Store.open(config.settings.data_dir, retention_days=config.settings.retention_days)
        try:
            return cls(config, store, clock=clock)
        except BaseException:
            store.close(commit=False)
            raise

    def close(self, *, commit: bool = True) -> None:
        """Close the store; `commit=False` drops uncommitted work (a dry run)."""
        with self.lock:
            if not self._closed:
                self._closed = True
                self.store.close(commit=commit)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ config views

    def refresh_config(self) -> None:
        """Recompute `config` from feeds.yaml plus the changes made from Slack; tell listeners.

        Changes made from Slack (feeds added, paused or removed; digest
        schedules) live in the store: see bot/config/overrides.py.
        """
        from bot.config.overrides import effective_config

        with self.lock:
            self.config = effective_config(self.base_config, self.store)
            self.renderer = Renderer(
                self.config.settings.templates_dir, feed_names=self.feed_names()
            )
            if self._search is not None:
                self._search.set_feed_tags(self.feed_tags())
        for listener in list(self.config_listeners):
            listener()

    def feed_names(self) -> dict[str, str]:
        return {f.id: f.display_name for f in self.config.feeds}

    def feed_tags(self) -> dict[str, tuple[str, ...]]:
        return {f.id: f.tags for f in self.config.feeds}

    def topics(self) -> dict[str, Any]:
        return {t.id: t for t in self.config.topics}

    # ------------------------------------------------------------------ polling

    def poll(
        self,
        *,
        feed_ids: Collection[str] | None = None,
        force: bool = False,
        on_report: Callable[[PollReport], None] | None = None,
    ) -> list[PollReport]:
        """One poll cycle, then story linking, matching and alert queueing, in one commit.

        The fetches run without the runtime lock, so a scheduled poll of one slow
        feed never holds up another feed's poll job; the store has its own lock,
        and matching plus the commit are serialized.
        """
        reports = poll_feeds(
            self.config,
            self.store,
            feed_ids=feed_ids,
            force=force,
            clock=self.clock,
            on_report=on_report,
            on_stored=self._link_stories,
            commit=False,
        )
        with self.lock:
            new = self.match_new_items()
            self.store.commit()
        if new and self._search is not None:
            self._search.add_many(self.store.get_items_by_seq(i.seq for i in new))
        return reports

    def _link_stories(self, items: list[Item]) -> None:
        """Record each new item that repeats a known story (runs on an ingest thread)."""
        with self._stories_lock:  # StoryIndex is not thread-safe; polls may overlap
            self._link_stories_locked(items)

    def _link_stories_locked(self, items: list[Item]) -> None:
        for item in items:
            found = self.stories.add(item)
            if found is None:
                continue
            primaries = self.store.get_items_by_seq([found.primary_seq])
            if not primaries:
                continue
            primary = primaries[0]
            primary_update, duplicate_update = link_extras(primary, item)
            if primary_update:
                self.store.update_item_extras(primary.feed_id, primary.id, primary_update)
            self.store.update_item_extras(item.feed_id, item.id, duplicate_update)

    def match_new_items(self) -> list[Item]:
        """Match items stored since the match cursor against every subscription; queue alerts.

        Returns those items. The caller commits: the queued alerts and the
        advanced cursor must land in the same write.
        """
        cursor = get_match_cursor(self.store)
        items = list(self.store.iter_items(after_seq=cursor))
        if not items:
            return []
        subscriptions = list_subscriptions(self.store)
        if subscriptions:
            matcher = SubscriptionMatcher(subscriptions, self.topics())
            alerts = matcher.match(items, now=self.clock(), feed_tags=self.feed_tags())
            enqueue_alerts(self.store, alerts)
        set_match_cursor(self.store, max(item.seq for item in items))
        return items

    # ------------------------------------------------------------------ alerts

    def dispatch_alerts(self, poster: Poster) -> DispatchReport:
        """Deliver every due alert: one message per owner, listing up to N items."""
        report = DispatchReport()
        with self.lock:
            now = self.clock()
            self._finish_inflight_alerts(poster, report)
            for owner, alerts in due_alerts(self.store, now).items():
                items = {i.seq: i for i in self.store.get_items_by_seq(a.item_seq for a in alerts)}
                listed = [
                    (items[a.item_seq], a.subscription_ids)
                    for a in alerts[:ALERT_ITEMS_PER_MESSAGE]
                    if a.item_seq in items
                ]
                keys = [a.key for a in alerts]
                if not listed:  # items pruned meanwhile: nothing left to tell
                    mark_delivered(self.store, keys, now=now)
                    continue
                more = len(alerts) - len(listed)
                messages = self.renderer.render_alerts(owner, listed, more=more)
                self._deliver_alerts(poster, owner, messages, keys, report)
            prune_sent(self.store, now)
            self.store.commit()
        return report

    def _deliver_alerts(
        self,
        poster: Poster,
        owner: str,
        messages: Sequence[SlackMessage],
        keys: Sequence[str],
        report: DispatchReport,
    ) -> None:
        now = self.clock()
        try:
            channel = owner if owner[:1] in ("C", "G") else poster.open_dm(owner)
        except Exception as exc:
            self._record_delivery_error(owner, str(exc), report)
            return
        delivery_key = "alerts:" + hashlib.sha256("|".join(keys).encode()).hexdigest()[:20]
        self.store.put_record(
            INFLIGHT_TABLE,
            delivery_key,
            {"owner": owner, "channel": channel, "since_ts": now.timestamp() - 5, "keys": keys},
        )
        self.store.commit()
        result = poster.post(channel, messages, metadata={"key": delivery_key})
        if result.ok:
            mark_delivered(self.store, keys, now=now)
            self.store.delete_record(INFLIGHT_TABLE, delivery_key)
            self.store.delete_record(DELIVERY_ERRORS_TABLE, owner)
            report.delivered += len(keys)
            report.messages += result.posted
        else:
            self.store.delete_record(INFLIGHT_TABLE, delivery_key)
            if not result.retryable:
                # A channel we cannot post to: say so once, drop these alerts
                # rather than retrying forever.
                mark_delivered(self.store, keys, now=now)
            self._record_delivery_error(owner, result.error or "delivery failed", report)
        self.store.commit()

    def _finish_inflight_alerts(self, poster: Poster, report: DispatchReport) -> None:
        """After a crash mid-delivery: finish what Slack already has, requeue the rest."""
        for key, record in self.store.records(INFLIGHT_TABLE).items():
            try:
                done = poster.already_delivered(record["channel"], key, record["since_ts"])
            except Exception as exc:  # Slack unreachable: decide on a later dispatch
                log.warning("cannot check delivery %s yet: %s", key, exc)
                continue
            if done:
                mark_delivered(self.store, record["keys"], now=self.clock())
                report.delivered += len(record["keys"])
            self.store.delete_record(INFLIGHT_TABLE, key)
        self.store.commit()

    def _record_delivery_error(self, target: str, error: str, report: DispatchReport) -> None:
        log.warning("delivery to %s failed: %s", target, error)
        report.failed_owners[target] = error
        self.store.put_record(
            DELIVERY_ERRORS_TABLE, target, {"error": error, "at": self.clock().isoformat()}
        )

    def delivery_errors(self) -> dict[str, dict[str, Any]]:
        return self.store.records(DELIVERY_ERRORS_TABLE)

    # ------------------------------------------------------------------ digests

    def digest_config(self, channel: str) -> DigestConfig | None:
        return next((d for d in self.config.digests if d.channel == channel), None)

    def _digest_record(self, channel: str) -> dict[str, Any]:
        record = self.store.get_record(DIGEST_TABLE, channel)
        if record is None:
            # First sight of this channel: start from the last day's items, and
            # count downtime from now (no catch-up for times before we knew it).
            now = self.clock()
            since = now - FIRST_DIGEST_LOOKBACK
            first_seq = next(
                (i.seq for i in self.store.iter_items() if i.first_seen and i.first_seen >= since),
                self.store.last_seq + 1,
            )
            record = {"seq": first_seq - 1, "last_sent": now.isoformat(), "inflight": None}
            self.store.put_record(DIGEST_TABLE, channel, record)
        return dict(record)

    def build_digest(
        self, digest: DigestConfig, *, through_seq: int | None = None
    ) -> tuple[Any, list[SlackMessage]]:
        """The digest a channel would get now: (view, messages). Changes nothing durable.

        `through_seq` leaves out items stored after it (to rebuild a digest that
        was partly posted before an outage, with the same items).
        """
        record = self._digest_record(digest.channel)
        items: Iterable[Item] = self.store.iter_items(after_seq=int(record["seq"]))
        if through_seq is not None:
            items = (item for item in items if item.seq <= through_seq)
        view = build_digest_view(
            items,
            digest,
            self.config.topics,
            now=self.clock(),
            feed_names=self.feed_names(),
            feed_tags=self.feed_tags(),
        )
        if view.item_count == 0:
            return view, []
        return view, self.renderer.render_digest(view, thread=digest.thread)

    def send_digest(
        self, digest: DigestConfig, poster: Poster, *, scheduled_for: datetime | None = None
    ) -> DigestOutcome:
        """Build and post a channel's digest; move its cursor only once Slack accepted it."""
        with self.lock:
            now = self.clock()
            scheduled_for = scheduled_for or now
            record = self._digest_record(digest.channel)
            unknown = self._finish_inflight_digest(digest.channel, record, poster)
            if unknown is not None:
                # Posting now could repeat a digest Slack already has.
                error = (
                    f"cannot tell whether the last digest reached {digest.channel} "
                    f"({unknown}); it is not posted again until Slack answers"
                )
                self._record_delivery_error(digest.channel, error, DispatchReport())
                return DigestOutcome(digest.channel, "failed", error=error)
            record = self._digest_record(digest.channel)
            if record.get("partial"):
                finished = self._finish_partial_digest(digest, record, poster)
                if finished.status == "failed" or finished.scheduled_for == scheduled_for:
                    return finished.outcome
                record = self._digest_record(digest.channel)
            last_sent = datetime.fromisoformat(record["last_sent"])
            if scheduled_for <= last_sent and scheduled_for != now:
                return DigestOutcome(digest.channel, "already-sent")
            view, messages = self.build_digest(digest)
            covered = max(int(record["seq"]), view.covered_through_seq)
            if not messages:
                if digest.when_empty == "notice":
                    messages = self.renderer.render_notice("Nothing new since the last briefing.")
                else:
                    record.update(seq=covered, last_sent=scheduled_for.isoformat())
                    self.store.put_record(DIGEST_TABLE, digest.channel, record)
                    self.store.commit()
                    return DigestOutcome(digest.channel, "skipped")
            key = f"digest:{digest.channel}:{scheduled_for.isoformat()}"
            since_ts = now.timestamp() - 5
            # The messages themselves are kept until Slack has them all: a
            # digest cut short is finished with exactly these, not a rebuild
            # (items may be pruned or linked as duplicates meanwhile).
            kept = [_message_to_json(m) for m in messages]
            record["inflight"] = {
                "key": key,
                "since_ts": since_ts,
                "seq": covered,
                "scheduled_for": scheduled_for.isoformat(),
                "parts": len(messages),
                "items": view.item_count,
                "messages": kept,
            }
            self.store.put_record(DIGEST_TABLE, digest.channel, record)
            self.store.commit()
            result = poster.post(digest.channel, messages, metadata={"key": key})
            record["inflight"] = None
            if not result.ok and result.posted:
                # Part of it reached the channel: finish that same digest later,
                # in its thread, rather than posting it all again.
                record["partial"] = {
                    "key": key,
                    "since_ts": since_ts,
                    "ts": result.ts,
                    "posted": result.posted,
                    "seq": covered,
                    "scheduled_for": scheduled_for.isoformat(),
                    "items": view.item_count,
                    "messages": kept,
                }
            if result.ok:
                record.update(seq=covered, last_sent=scheduled_for.isoformat())
                self.store.delete_record(DELIVERY_ERRORS_TABLE, digest.channel)
                outcome = DigestOutcome(
                    digest.channel, "sent", view.item_count, messages=tuple(messages)
                )
            else:
                self._record_delivery_error(digest.channel, result.error, DispatchReport())
                outcome = DigestOutcome(digest.channel, "failed", error=result.error)
            self.store.put_record(DIGEST_TABLE, digest.channel, record)
            self.store.commit()
            return outcome

    def _finish_partial_digest(
        self, digest: DigestConfig, record: dict[str, Any], poster: Poster
    ) -> _PartialOutcome:
        """Post the rest of a digest an outage cut short, with the same items, once."""
        from bot.slack.deliver import DeliveryResult

        partial = record["partial"]
        scheduled_for = datetime.fromisoformat(partial["scheduled_for"])
        if partial.get("messages"):
            messages = [_message_from_json(m) for m in partial["messages"]]
            item_count = int(partial.get("items", 0))
        else:  # a record from before the messages were kept: rebuild them
            _view, messages = self.build_digest(digest, through_seq=int(partial["seq"]))
            item_count = _view.item_count
        # A crash may have come in the middle of an earlier resume: ask Slack
        # how far the digest got rather than trusting the record alone.
        since_ts = partial.get("since_ts", partial["ts"])
        try:
            found = poster.find_posted(digest.channel, partial["key"], since_ts)
        except Exception as exc:
            error = f"cannot check how much of the digest reached {digest.channel} yet: {exc}"
            self._record_delivery_error(digest.channel, error, DispatchReport())
            return _PartialOutcome(
                DigestOutcome(digest.channel, "failed", error=error), scheduled_for
            )
        posted, ts = int(partial["posted"]), partial["ts"]
        if found is not None and found.posted > posted:
            posted, ts = found.posted, found.ts
        earlier = DeliveryResult(ok=False, ts=ts, posted=posted)
        result = poster.post(
            digest.channel, messages, metadata={"key": partial["key"]}, resume=earlier
        )
        if result.ok:
            record.update(seq=partial["seq"], last_sent=partial["scheduled_for"], partial=None)
            self.store.delete_record(DELIVERY_ERRORS_TABLE, digest.channel)
            outcome = DigestOutcome(digest.channel, "sent", item_count, messages=tuple(messages))
        else:
            if result.posted:
                partial["posted"] = result.posted
                partial["ts"] = result.ts or partial["ts"]
            self._record_delivery_error(digest.channel, result.error, DispatchReport())
            outcome = DigestOutcome(digest.channel, "failed", error=result.error)
        self.store.put_record(DIGEST_TABLE, digest.channel, record)
        self.store.commit()
        return _PartialOutcome(outcome, scheduled_for)

    def _finish_inflight_digest(
        self, channel: str, record: dict[str, Any], poster: Poster
    ) -> str | None:
        """After a crash mid-post: see how much of the digest Slack has.

        All of it: move the cursor as if we saw it go. Part of it (the crash
        came between two messages of a long digest): record it as partial, so
        that the rest is posted into its thread (`_finish_partial_digest`).
        None: forget the attempt; the digest is built and sent again.
        Returns why Slack could not be asked (the attempt stays in flight), or None.
        """
        inflight = record.get("inflight")
        if not inflight:
            return None
        try:
            found = poster.find_posted(channel, inflight["key"], inflight["since_ts"])
        except Exception as exc:
            log.warning("cannot check digest delivery for %s yet: %s", channel, exc)
            return str(exc)
        record["inflight"] = None
        # Records written before "parts" existed: whatever Slack has counts as all.
        parts = int(inflight.get("parts") or 0)
        if found is not None and found.posted < parts:
            log.info(
                "digest for %s was cut after %d of %d messages; finishing it",
                channel,
                found.posted,
                parts,
            )
            record["partial"] = {
                "key": inflight["key"],
                "since_ts": inflight["since_ts"],
                "ts": found.ts,
                "posted": found.posted,
                "seq": inflight["seq"],
                "scheduled_for": inflight["scheduled_for"],
                "items": inflight.get("items", 0),
                "messages": inflight.get("messages"),
            }
        elif found is not None:
            record.update(seq=inflight["seq"], last_sent=inflight["scheduled_for"])
        self.store.put_record(DIGEST_TABLE, channel, record)
        self.store.commit()
        return None

    def catch_up_digests(self, poster: Poster) -> list[DigestOutcome]:
        """At start-up: send once each digest whose time passed while the bot was down."""
        outcomes = []
        for digest in self.config.digests:
            with self.lock:
                record = self._digest_record(digest.channel)
                self._finish_inflight_digest(digest.channel, record, poster)
                record = self._digest_record(digest.channel)
                missed = missed_digest(
                    digest, datetime.fromisoformat(record["last_sent"]), self.clock()
                )
            if missed is not None:
                outcomes.append(self.send_digest(digest, poster, scheduled_for=missed))
        return outcomes

    # ------------------------------------------------------------------ reading

    def search(self, text: str, *, limit: int = 10) -> SearchResults:
        """Search what the bot has seen (query syntax or plain words); raises QueryError."""
        return self.search_index.search_text(text, now=self.clock(), limit=limit)

    def feed_status_rows(self) -> list[FeedStatusRow]:
        states = self.store.feed_states()
        return [
            FeedStatusRow(feed.id, feed.display_name, feed.enabled, states.get(feed.id))
            for feed in self.config.feeds
        ]

    def latest(self, *, feed_ids: Iterable[str] | None = None, limit: int = 10) -> list[Item]:
        """The newest non-backlog stories (duplicates folded), newest first.

        Walks the store backwards by seq (the order items were first seen) in
        chunks, so the cost follows `limit`, not the size of the store.
        """
        wanted = set(feed_ids) if feed_ids is not None else None
        found: list[Item] = []
        seq = self.store.last_seq
        scanned = 0
        while seq > 0 and len(found) < limit and scanned < LATEST_SCAN_LIMIT:
            chunk = range(seq, max(0, seq - 500), -1)
            seq -= len(chunk)
            scanned += len(chunk)
            for item in self.store.get_items_by_seq(chunk):
                if item.backlog or "duplicate_of" in item.extras:
                    continue
                if wanted is not None and item.feed_id not in wanted:
                    continue
                found.append(item)
        found.sort(key=lambda i: i.when, reverse=True)
        return found[:limit]


def _message_to_json(message: SlackMessage) -> dict[str, Any]:
    """A message as a store record value (kept while a digest is being posted)."""
    return {
        "text": message.text,
        "blocks": [dict(block) for block in message.blocks],
        "in_thread": message.in_thread,
    }


def _message_from_json(value: Mapping[str, Any]) -> SlackMessage:
    return SlackMessage(
        text=str(value.get("text") or ""),
        blocks=tuple(value.get("blocks") or ()),
        in_thread=bool(value.get("in_thread")),
    )
