"""The service's clock: APScheduler 3.x jobs that poll feeds, deliver alerts and digests.

`BotScheduler` wraps one `BackgroundScheduler` (UTC, a few worker threads,
coalescing, one instance of a job at a time) and only triggers `Runtime`
methods; the work and its durability rules live in bot/app/runtime.py. This is
the one module that imports apscheduler.

Jobs (ids in brackets):

- one poll job per enabled feed [poll:<feed id>] every `interval` seconds plus
  a random jitter, then alert dispatch when the poll stored news, then the
  feed-health check;
- alert dispatch every minute [dispatch], for hourly and daily batches that
  came due and for deliveries that failed and may now succeed;
- one digest job per configured digest [digest:<channel>];
- the feed-health check every 5 minutes [feed-health];
- retention once a day [retention]: prune the store.

Not obvious:
- Poll timing. The first run of a feed's job is its stored `next_due` (or now
  when it is due or never polled), so a restart keeps each feed's rhythm. Runs
  call `Runtime.poll(force=False)`, which skips a feed that is not due: backoff
  after failures, Retry-After and Cache-Control max-age are honoured by the
  feed state, not by the job. A successful poll sets `next_due` to the END of
  the fetch plus the interval while the job fires at its START plus the
  interval (plus jitter), so a job can come a few seconds before its feed is
  due. A healthy feed (no failures) due within `total_timeout` is therefore
  polled anyway; without that, any job whose jitter drew less than the last
  fetch's duration would skip a whole interval. APScheduler's IntervalTrigger
  chains each run from the previous jittered time, so the mean period is
  interval + jitter/2.
- Digest timing. APScheduler 3.11's CronTrigger gets some local times wrong on
  DST nights (see bot/brief/schedule.py). `DigestTrigger` asks
  `bot.brief.schedule.next_digest_time` instead, the same function start-up catch-up
  (`Runtime.catch_up_digests`) uses, so live jobs and catch-up agree by
  construction. A digest job has no misfire grace time: a digest fired late
  (the machine slept) is sent late, not dropped. The job sends for the latest
  scheduled instant at or before now; `Runtime.send_digest` refuses a slot
  that was already sent, so a catch-up and a live run never both post.
- Feed-health notices. A feed failing for `failure_notice_hours` gets ONE
  notice in `ops_channel`, and one more when it works again, never one per
  failure. What was notified is kept in the store's `ops_notices` table
  (committed), so a restart repeats nothing. Without an `ops_channel` the
  notices are only logged (once each, all the same). A notice is recorded
  after Slack accepted it: a crash in between can repeat that one notice.
- `sync_jobs()` is registered in `runtime.config_listeners`: feeds and digest
  schedules changed from Slack add, move or remove jobs without a restart.
- The runtime's clock is taken to be the wall clock APScheduler runs on; tests
  that use a fake clock call the job methods directly instead of starting the
  scheduler.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app.runtime import DigestOutcome, DispatchReport, Poster, Runtime
from bot.brief.schedule import digest_zone, next_digest_time, scheduled_times
from bot.brief.subscriptions import list_subscriptions
from bot.config.model import DigestConfig
from bot.config.units import format_days, format_duration
from bot.models import UTC, FeedConfig, FeedState, PollReport

__all__ = [
    "DEFAULT_FAILURE_NOTICE_HOURS",
    "OPS_NOTICES_TABLE",
    "BotScheduler",
    "DigestTrigger",
    "latest_digest_time",
]

log = logging.getLogger(__name__)

DEFAULT_FAILURE_NOTICE_HOURS = 6.0
# Store record table: feed id -> {"failing_since", "notified_at"} of the notice given.
OPS_NOTICES_TABLE = "ops_notices"

DISPATCH_EVERY = timedelta(minutes=1)
HEALTH_EVERY = timedelta(minutes=5)
RETENTION_EVERY = timedelta(days=1)
# Retention runs first a while after start-up, out of the way of the first polls.
RETENTION_FIRST_DELAY = timedelta(minutes=10)
# Queued alerts (from before a restart) go out soon after start-up.
DISPATCH_FIRST_DELAY = timedelta(seconds=5)
# Feeds due at start-up start within this spread (at most their jitter), not all at once.
START_SPREAD_SECONDS = 30.0
# A run later than this is skipped (and coalesced into the next): polls and
# dispatch come round again soon. Digests have no limit (see the docstring).
MISFIRE_GRACE_SECONDS = 300
# Digest slots lie within a week of each other; the margin covers a skipped day.
_DIGEST_LOOKBACK = timedelta(days=15)

_DISPATCH_JOB = "dispatch"
_HEALTH_JOB = "feed-health"
_RETENTION_JOB = "retention"


def _poll_job_id(feed_id: str) -> str:
    return f"poll:{feed_id}"


def _digest_job_id(channel: str) -> str:
    return f"digest:{channel}"


class DigestTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler ships no types
    """Fires at a digest's scheduled instants, as `bot.brief.schedule.next_digest_time` says.

    Fire times are in UTC, not the channel's zone: an aware datetime at a
    repeated local time (01:30 on a fall-back night) compares unequal to every
    other zone's datetime for the same instant (PEP 495), a trap for any
    comparison the scheduler makes.
    """

    __slots__ = ("digest",)

    def __init__(self, digest: DigestConfig) -> None:
        digest_zone(digest)  # ValueError now for an unknown zone (naming the channel), not later
        self.digest = digest

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # Chain from the previous fire time when there is one: APScheduler asks
        # for every slot between a late run and now, then coalesces them.
        after = previous_fire_time if previous_fire_time is not None else now
        try:
            return next_digest_time(self.digest, after)
        except ValueError as exc:  # no weekday to run on: never fires
            log.warning("%s", exc)
            return None

    def __str__(self) -> str:
        return (
            f"digest at {self.digest.at:%H:%M} {self.digest.timezone} "
            f"{format_days(self.digest.days)}"
        )

    def __repr__(self) -> str:
        return f"<DigestTrigger ({self})>"


def latest_digest_time(digest: DigestConfig, now: datetime) -> datetime | None:
    """The latest scheduled instant at or before `now` (UTC), or None when none is near."""
    times = scheduled_times(digest, now - _DIGEST_LOOKBACK, now)
    return times[-1] if times else None


class BotScheduler:
    """The background scheduler that runs the bot's jobs against one `Runtime`.

    `poster` is the Slack delivery layer (slack/deliver.py's `Deliverer`).
    `jitter_fraction` of a feed's interval (at most `max_jitter_seconds`) is
    the random delay added to each poll. The job methods (`poll_feed`,
    `dispatch_alerts`, `send_digest`, `check_feed_health`, `prune_store`) can
    be called directly; each is what its job runs.
    """

    def __init__(
        self,
        runtime: Runtime,
        poster: Poster,
        *,
        failure_notice_hours: float = DEFAULT_FAILURE_NOTICE_HOURS,
        jitter_fraction: float = 0.1,
        max_jitter_seconds: float = 300.0,
        workers: int = 4,
    ) -> None:
        if failure_notice_hours <= 0:
            raise ValueError(f"failure_notice_hours must be positive, not {failure_notice_hours}")
        self.runtime = runtime
        self.poster = poster
        self.failure_notice = timedelta(hours=failure_notice_hours)
        self.jitter_fraction = max(0.0, jitter_fraction)
        self.max_jitter_seconds = max(0.0, max_jitter_seconds)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            },
        )
        self._lock = threading.RLock()
        self._started = False
        # What each job was built from, to tell what a config change moved.
        self._feed_jobs: dict[str, int] = {}  # feed id -> interval seconds
        self._digest_jobs: dict[str, DigestConfig] = {}  # channel -> digest
        self._listener: Callable[[], None] = self.sync_jobs
        runtime.config_listeners.append(self._listener)

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, paused: bool = False) -> None:
        """Start the scheduler thread and create every job.

        `paused=True` computes each job's next run time but runs nothing (for
        a look at `describe()`, or tests that call the job methods directly).
        """
        with self._lock:
            if self._started:
                return
            self._scheduler.start(paused=paused)
            self._started = True
            now = self.runtime.clock()
            self._scheduler.add_job(
                self.dispatch_alerts,
                IntervalTrigger(seconds=DISPATCH_EVERY.total_seconds(), timezone=UTC),
                id=_DISPATCH_JOB,
                name="alert dispatch",
                next_run_time=now + DISPATCH_FIRST_DELAY,
                misfire_grace_time=int(DISPATCH_EVERY.total_seconds()),
            )
            self._scheduler.add_job(
                self.check_feed_health,
                IntervalTrigger(seconds=HEALTH_EVERY.total_seconds(), timezone=UTC),
                id=_HEALTH_JOB,
                name="feed health",
            )
            first_prune = now + RETENTION_FIRST_DELAY
            self._scheduler.add_job(
                self.prune_store,
                IntervalTrigger(
                    seconds=RETENTION_EVERY.total_seconds(), start_date=first_prune, timezone=UTC
                ),
                id=_RETENTION_JOB,
                name="retention",
                next_run_time=first_prune,
            )
            self.sync_jobs()

    def resume(self) -> None:
        """Run jobs again after `start(paused=True)`."""
        self._scheduler.resume()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop scheduling; with `wait`, let running jobs finish (a poll commits its work)."""
        with self._lock:
            if self._listener in self.runtime.config_listeners:
                self.runtime.config_listeners.remove(self._listener)
            if not self._started:
                return
            self._started = False
            self._feed_jobs.clear()
            self._digest_jobs.clear()
        self._scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return self._started

    # ------------------------------------------------------------------ jobs from config

    def sync_jobs(self) -> None:
        """Make the feed and digest jobs match `runtime.config`: add, move and remove jobs.

        Called after every config change (it is a `runtime.config_listeners`
        entry); does nothing before `start()`.
        """
        with self._lock:
            if not self._started:
                return
            config = self.runtime.config
            feeds = {feed.id: feed for feed in config.enabled_feeds}
            for feed_id in [f for f in self._feed_jobs if f not in feeds]:
                self._remove_job(_poll_job_id(feed_id))
                del self._feed_jobs[feed_id]
                log.info("feed %s: poll job removed", feed_id)
            for feed_id, feed in feeds.items():
                if self._feed_jobs.get(feed_id) != feed.interval_seconds:
                    action = "moved" if feed_id in self._feed_jobs else "added"
                    self._add_poll_job(feed)
                    log.info(
                        "feed %s: poll job %s (every %ds)", feed_id, action, feed.interval_seconds
                    )
            digests = {digest.channel: digest for digest in config.digests}
            for channel in [c for c in self._digest_jobs if c not in digests]:
                self._remove_job(_digest_job_id(channel))
                del self._digest_jobs[channel]
                log.info("digest for %s: job removed", channel)
            for channel, digest in digests.items():
                if self._digest_jobs.get(channel) != digest:
                    action = "moved" if channel in self._digest_jobs else "added"
                    try:
                        self._add_digest_job(digest)
                    except ValueError as exc:  # unknown zone: the rest still run
                        log.error("digest for %s not scheduled: %s", channel, exc)
                        continue
                    log.info("digest for %s: job %s (%s)", channel, action, DigestTrigger(digest))

    def _add_poll_job(self, feed: FeedConfig) -> None:
        jitter = self._jitter_seconds(feed)
        now = self.runtime.clock()
        state = self.runtime.store.get_feed_state(feed.id)
        first = state.next_due if state is not None and state.next_due is not None else now
        if first <= now:
            first = now + timedelta(seconds=random.uniform(0, min(jitter, START_SPREAD_SECONDS)))
        self._scheduler.add_job(
            self.poll_feed,
            IntervalTrigger(
                seconds=feed.interval_seconds,
                start_date=first,
                timezone=UTC,
                jitter=jitter or None,
            ),
            args=[feed.id],
            id=_poll_job_id(feed.id),
            name=f"poll {feed.id}",
            replace_existing=True,
            next_run_time=first,
        )
        self._feed_jobs[feed.id] = feed.interval_seconds

    def _add_digest_job(self, digest: DigestConfig) -> None:
        self._scheduler.add_job(
            self.send_digest,
            DigestTrigger(digest),
            args=[digest.channel],
            id=_digest_job_id(digest.channel),
            name=f"digest {digest.channel}",
            replace_existing=True,
            misfire_grace_time=None,
        )
        self._digest_jobs[digest.channel] = digest

    def _remove_job(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def _jitter_seconds(self, feed: FeedConfig) -> int:
        return int(min(feed.interval_seconds * self.jitter_fraction, self.max_jitter_seconds))

    # ------------------------------------------------------------------ the jobs

    def poll_feed(self, feed_id: str) -> list[PollReport]:
        """Poll one feed if it is due, deliver the alerts it raised, check feed health."""
        feed = self.runtime.config.feed(feed_id)
        if feed is None or not feed.enabled:
            return []  # removed or paused since the job was made; sync_jobs drops the job
        force = self._due_soon(feed)
        reports = self.runtime.poll(feed_ids={feed_id}, force=force)
        for report in reports:
            if report.status == "error":
                log.info("feed %s: poll failed: %s", feed_id, report.error)
            elif report.new_items:
                kind = "backlog " if report.backlog else ""
                log.info("feed %s: %d new %sitem(s)", feed_id, report.new_items, kind)
        if any(r.new_items and not r.backlog for r in reports):
            self.dispatch_alerts()
        if reports:
            self.check_feed_health()
        return reports

    def _due_soon(self, feed: FeedConfig) -> bool:
        """A healthy feed due within the last fetch's possible duration (see the docstring)."""
        state = self.runtime.store.get_feed_state(feed.id)
        if state is None or state.next_due is None or state.consecutive_failures:
            return False  # due already, or backing off: poll() decides alone
        slack = min(
            timedelta(seconds=self.runtime.config.settings.total_timeout + 5),
            timedelta(seconds=feed.interval_seconds / 2),
        )
        return state.next_due <= self.runtime.clock() + slack

    def dispatch_alerts(self) -> DispatchReport:
        """Deliver every alert that is due (immediate ones and batches that came due)."""
        report = self.runtime.dispatch_alerts(self.poster)
        if report.messages or report.failed_owners:
            log.info(
                "alerts: %d delivered in %d message(s); %d recipient(s) failed",
                report.delivered,
                report.messages,
                len(report.failed_owners),
            )
        return report

    def send_digest(self, channel: str) -> DigestOutcome | None:
        """Send `channel`'s digest for its latest scheduled time, unless that one was sent."""
        digest = self.runtime.digest_config(channel)
        if digest is None:
            return None  # removed since the job was made
        slot = latest_digest_time(digest, self.runtime.clock())
        if slot is None:
            return None
        outcome = self.runtime.send_digest(digest, self.poster, scheduled_for=slot)
        if outcome.status == "failed":
            log.warning("digest for %s not delivered: %s", channel, outcome.error)
        else:
            log.info("digest for %s: %s (%d items)", channel, outcome.status, outcome.items)
        return outcome

    def prune_store(self) -> int:
        """Drop items past the retention window; durable on return."""
        with self.runtime.lock:
            removed = self.runtime.store.prune(self.runtime.clock())
            self.runtime.store.commit()
        if removed:
            log.info("retention: %d item(s) pruned", removed)
        return removed

    def check_feed_health(self) -> list[str]:
        """Post a notice for each feed that crossed the failure threshold or recovered.

        Returns the notices given (also logged). See the module docstring.
        """
        with self.runtime.lock:
            now = self.runtime.clock()
            feeds = {feed.id: feed for feed in self.runtime.config.enabled_feeds}
            states = self.runtime.store.feed_states()
            given = self._announce_recoveries(feeds, states, now)
            given += self._announce_failures(feeds, states, now)
            self.runtime.store.commit()
        return given

    def _announce_recoveries(
        self, feeds: dict[str, FeedConfig], states: dict[str, FeedState], now: datetime
    ) -> list[str]:
        given = []
        for feed_id, record in self.runtime.store.records(OPS_NOTICES_TABLE).items():
            feed = feeds.get(feed_id)
            if feed is None:  # removed or paused: nothing more to say about it
                self.runtime.store.delete_record(OPS_NOTICES_TABLE, feed_id)
                continue
            since = datetime.fromisoformat(str(record["failing_since"]))
            if _failing_since(states.get(feed_id)) == since:
                continue  # still the outage we told about
            # Working again (or it worked, then failed anew: a new outage).
            text = _recovery_text(feed, since, now)
            if self._notify(text):
                self.runtime.store.delete_record(OPS_NOTICES_TABLE, feed_id)
                given.append(text)
        return given

    def _announce_failures(
        self, feeds: dict[str, FeedConfig], states: dict[str, FeedState], now: datetime
    ) -> list[str]:
        given = []
        for feed_id, feed in feeds.items():
            state = states.get(feed_id)
            since = _failing_since(state)
            if state is None or since is None or now - since < self.failure_notice:
                continue
            if self.runtime.store.get_record(OPS_NOTICES_TABLE, feed_id) is not None:
                continue
            text = _failure_text(feed, state, since, now)
            if self._notify(text):
                self.runtime.store.put_record(
                    OPS_NOTICES_TABLE,
                    feed_id,
                    {"failing_since": since.isoformat(), "notified_at": now.isoformat()},
                )
                given.append(text)
        return given

    def _notify(self, text: str) -> bool:
        """Log the notice and post it to the ops channel; False when worth trying again later."""
        log.warning("ops notice: %s", text)
        channel = self.runtime.config.ops_channel
        if channel is None:
            return True
        result: Any = self.poster.post(channel, self.runtime.renderer.render_notice(text))
        if result.ok:
            return True
        if result.retryable:
            log.warning("ops notice to %s not delivered, will retry: %s", channel, result.error)
            return False
        # A channel the bot cannot post to: say so in the log, don't retry forever.
        log.error("ops notice to %s not delivered: %s", channel, result.error)
        return True

    # ------------------------------------------------------------------ views

    def next_run_times(self) -> dict[str, datetime | None]:
        """Each job's next run time (UTC; None when paused or not scheduled), by job id."""
        if not self._started:
            return {}
        return {
            job.id: (job.next_run_time.astimezone(UTC) if job.next_run_time else None)
            for job in self._scheduler.get_jobs()
        }

    def describe(self) -> list[str]:
        """What is scheduled, one line each: feeds, digests, channels, every job's next run.

        For the start-up log; never contains a secret (feed URLs are left out).
        """
        config = self.runtime.config
        runs = self.next_run_times()
        lines = []
        paused = [f.id for f in config.feeds if not f.enabled]
        enabled = [f.id for f in config.enabled_feeds]
        summary = f"feeds: {len(enabled)} enabled"
        if paused:
            summary += f", {len(paused)} paused ({', '.join(paused)})"
        lines.append(summary)
        for feed in config.enabled_feeds:
            lines.append(
                f"poll {feed.id} ({feed.display_name}): every "
                f"{format_duration(feed.interval_seconds)}, next "
                f"{_show_time(runs.get(_poll_job_id(feed.id)))}"
            )
        for digest in config.digests:
            when = runs.get(_digest_job_id(digest.channel))
            local = ""
            if when is not None:
                local = f"{when.astimezone(digest_zone(digest)):%Y-%m-%d %H:%M %Z} = "
            lines.append(
                f"digest {digest.channel}: {digest.at:%H:%M} {digest.timezone} "
                f"{format_days(digest.days)}, next {local}{_show_time(when)}"
            )
        lines.append(self._describe_channels())
        lines.append(
            f"alert dispatch: every {format_duration(DISPATCH_EVERY.total_seconds())}, "
            f"next {_show_time(runs.get(_DISPATCH_JOB))}"
        )
        target = (
            f"notices to {config.ops_channel}"
            if config.ops_channel
            else "no ops_channel, notices only logged"
        )
        lines.append(
            f"feed health: {target} after {format_duration(self.failure_notice.total_seconds())}"
            f" failing; next check {_show_time(runs.get(_HEALTH_JOB))}"
        )
        lines.append(
            f"retention: {self.runtime.config.settings.retention_days} days, next prune "
            f"{_show_time(runs.get(_RETENTION_JOB))}"
        )
        return lines

    def _describe_channels(self) -> str:
        config = self.runtime.config
        channels: dict[str, list[str]] = {}
        for digest in config.digests:
            channels.setdefault(digest.channel, []).append("digest")
        if config.ops_channel:
            channels.setdefault(config.ops_channel, []).append("ops notices")
        people = set()
        for sub in list_subscriptions(self.runtime.store):
            if sub.owner_is_channel:
                uses = channels.setdefault(sub.owner, [])
                if "alerts" not in uses:
                    uses.append("alerts")
            else:
                people.add(sub.owner)
        shown = [f"{c} ({', '.join(uses)})" for c, uses in sorted(channels.items())]
        text = "channels: " + (", ".join(shown) if shown else "none")
        return text + f"; direct-message alerts for {len(people)} user(s)"


# --------------------------------------------------------------------------- helpers


def _failing_since(state: FeedState | None) -> datetime | None:
    if state is None or not state.consecutive_failures:
        return None
    return state.failing_since


def _failure_text(feed: FeedConfig, state: FeedState, since: datetime, now: datetime) -> str:
    return (
        f"Feed {feed.display_name} ({feed.id}) has been failing for {_span(now - since)} "
        f"(since {since:%Y-%m-%d %H:%M} UTC, {state.consecutive_failures} failed polls). "
        f"Last error: {state.last_error or 'unknown'}. Its news is missing from alerts and "
        f"digests until it recovers; check the feed, or pause it with /brief feed pause {feed.id}."
    )


def _recovery_text(feed: FeedConfig, since: datetime, now: datetime) -> str:
    return (
        f"Feed {feed.display_name} ({feed.id}) is working again, after failing since "
        f"{since:%Y-%m-%d %H:%M} UTC ({_span(now - since)})."
    )


def _span(delta: timedelta) -> str:
    """A duration to the minute: "6h1m"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    return format_duration(minutes * 60)


def _show_time(moment: datetime | None) -> str:
    if moment is None:
        return "not scheduled"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
