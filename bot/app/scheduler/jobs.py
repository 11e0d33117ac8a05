"""`BotScheduler`: the bot's jobs on one APScheduler `BackgroundScheduler`, against one Runtime.

The scheduler runs in UTC with a few worker threads, coalescing, one instance
of a job at a time, and only triggers `Runtime` methods. Jobs (ids in brackets,
timing in bot/app/scheduler/triggers.py):

- one poll job per enabled feed [poll:<feed id>] every `interval` seconds plus
  a random jitter, then alert dispatch when the poll stored news, then the
  feed-health check;
- alert dispatch every minute [dispatch], for hourly and daily batches that
  came due and for deliveries that failed and may now succeed;
- one digest job per configured digest [digest:<channel>]; with `monthly:
  true`, the first run of each month also posts the last month's briefing;
- the feed-health check every 5 minutes [feed-health];
- the Federal Register enrichment every minute [fr-enrich], and at once after
  a poll stored items of an `enrich: federal-register` feed: its own job on
  its own worker, so a slow documents API never holds up a poll;
- deadline reminders every 15 minutes [reminders], and at once after an
  enrichment stored facts (a correction may have moved a date): bot/app/reminders.py;
- retention once a day [retention]: prune the store;
- the serial work every 5 seconds [serial]: on the leader, link and match
  the items other replicas stored (bot/app/replicas.py), then alert dispatch.

Several replicas (bot/app/replicas.py). Every replica runs every job; a poll
runs only where its feed's claim was taken ("poll:<feed id>", skipped
elsewhere), deliveries claim their destination (bot/deliver/locks.py), and
feed health, enrichment, reminders, retention and the serial work run only
on the leader. One process alone is always the leader and gets every claim.

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
- Feed-health notices. A feed failing for `failure_notice_hours` gets ONE
  notice in `ops_channel`, and one more when it works again, never one per
  failure (bot/deliver/notices.py keeps what was notified).
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

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app.fedreg import enrich_documents
from bot.app.reminders import UserZones, send_reminders
from bot.app.replicas import match_pending
from bot.app.reports import send_monthly
from bot.app.runtime import Runtime
from bot.app.scheduler.describe import describe_jobs
from bot.app.scheduler.triggers import (
    DISPATCH_EVERY,
    DISPATCH_FIRST_DELAY,
    DISPATCH_JOB,
    ENRICH_EVERY,
    ENRICH_JOB,
    HEALTH_EVERY,
    HEALTH_JOB,
    MISFIRE_GRACE_SECONDS,
    REMIND_EVERY,
    REMIND_JOB,
    RETENTION_EVERY,
    RETENTION_FIRST_DELAY,
    RETENTION_JOB,
    SERIAL_EVERY,
    SERIAL_JOB,
    START_SPREAD_SECONDS,
    DigestTrigger,
    digest_job_id,
    latest_digest_time,
    poll_job_id,
)
from bot.config.model import DigestConfig
from bot.deliver.alerts import DispatchReport
from bot.deliver.digests import DigestOutcome
from bot.deliver.monthly import MonthlyOutcome
from bot.deliver.notices import FeedHealthNotifier
from bot.deliver.ports import Poster
from bot.deliver.reminders import ReminderReport
from bot.ingest.fedreg.apply import EnrichReport
from bot.models import UTC, FeedConfig, PollReport

__all__ = ["DEFAULT_FAILURE_NOTICE_HOURS", "BotScheduler"]

log = logging.getLogger(__name__)

DEFAULT_FAILURE_NOTICE_HOURS = 6.0


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
        self.notices = FeedHealthNotifier(
            runtime.store,
            runtime.locks,
            clock=runtime.clock,
            failure_notice=timedelta(hours=failure_notice_hours),
        )
        self.user_zones = UserZones(poster)
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
            self._add_fixed_jobs(self.runtime.clock())
            self.sync_jobs()

    def _add_fixed_jobs(self, now: datetime) -> None:
        """Alert dispatch, the feed-health check and retention: the jobs config does not move."""
        self._scheduler.add_job(
            self.run_serial_work,
            IntervalTrigger(seconds=SERIAL_EVERY.total_seconds(), timezone=UTC),
            id=SERIAL_JOB,
            name="serial work",
        )
        self._scheduler.add_job(
            self.dispatch_alerts,
            IntervalTrigger(seconds=DISPATCH_EVERY.total_seconds(), timezone=UTC),
            id=DISPATCH_JOB,
            name="alert dispatch",
            next_run_time=now + DISPATCH_FIRST_DELAY,
            misfire_grace_time=int(DISPATCH_EVERY.total_seconds()),
        )
        self._scheduler.add_job(
            self.enrich_documents,
            IntervalTrigger(seconds=ENRICH_EVERY.total_seconds(), timezone=UTC),
            id=ENRICH_JOB,
            name="Federal Register enrichment",
        )
        self._scheduler.add_job(
            self.send_reminders,
            IntervalTrigger(seconds=REMIND_EVERY.total_seconds(), timezone=UTC),
            id=REMIND_JOB,
            name="deadline reminders",
            next_run_time=now + DISPATCH_FIRST_DELAY,
        )
        self._scheduler.add_job(
            self.check_feed_health,
            IntervalTrigger(seconds=HEALTH_EVERY.total_seconds(), timezone=UTC),
            id=HEALTH_JOB,
            name="feed health",
        )
        first_prune = now + RETENTION_FIRST_DELAY
        self._scheduler.add_job(
            self.prune_store,
            IntervalTrigger(
                seconds=RETENTION_EVERY.total_seconds(), start_date=first_prune, timezone=UTC
            ),
            id=RETENTION_JOB,
            name="retention",
            next_run_time=first_prune,
        )

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
            self._sync_poll_jobs()
            self._sync_digest_jobs()

    def _sync_poll_jobs(self) -> None:
        feeds = {feed.id: feed for feed in self.runtime.config.enabled_feeds}
        for feed_id in [f for f in self._feed_jobs if f not in feeds]:
            self._remove_job(poll_job_id(feed_id))
            del self._feed_jobs[feed_id]
            log.info("feed %s: poll job removed", feed_id)
        for feed_id, feed in feeds.items():
            if self._feed_jobs.get(feed_id) != feed.interval_seconds:
                action = "moved" if feed_id in self._feed_jobs else "added"
                self._add_poll_job(feed)
                log.info("feed %s: poll job %s (every %ds)", feed_id, action, feed.interval_seconds)

    def _sync_digest_jobs(self) -> None:
        digests = {digest.channel: digest for digest in self.runtime.config.digests}
        for channel in [c for c in self._digest_jobs if c not in digests]:
            self._remove_job(digest_job_id(channel))
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
        state = self.runtime.store.feed_states.get(feed.id)
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
            id=poll_job_id(feed.id),
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
            id=digest_job_id(digest.channel),
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
        # Another replica polling this feed: it is its poll (bot/app/replicas.py).
        with self.runtime.locks.hold(poll_job_id(feed_id), wait=False) as held:
            if not held:
                return []
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
        if feed.enrich and any(r.new_items for r in reports):
            self._run_soon(ENRICH_JOB)
        if reports:
            self.check_feed_health()
        return reports

    def _run_soon(self, job_id: str) -> None:
        """Bring a fixed job's next run forward to now (it runs on a worker of its own)."""
        with self._lock:
            if self._started and self._scheduler.get_job(job_id) is not None:
                self._scheduler.modify_job(job_id, next_run_time=self.runtime.clock())

    def run_serial_work(self) -> int:
        """On the leader: match the items other replicas stored; deliver what they raised."""
        matched = match_pending(self.runtime)
        if matched:
            self.dispatch_alerts()
        return len(matched)

    def enrich_documents(self) -> EnrichReport:
        """Fetch the Federal Register documents that are due (bot/app/fedreg.py)."""
        with self.runtime.coordination.leading() as leader:
            report = enrich_documents(self.runtime) if leader else EnrichReport()
        if report.enriched:
            log.info("Federal Register: facts of %d document(s) stored", len(report.enriched))
            self._run_soon(REMIND_JOB)
        return report

    def send_reminders(self) -> ReminderReport:
        """Post the deadline reminders that are due (bot/app/reminders.py)."""
        with self.runtime.coordination.leading() as leader:
            if not leader:
                return ReminderReport()
            report = send_reminders(self.runtime, self.poster, zones=self.user_zones)
        if report.messages or report.failed_owners:
            log.info(
                "reminders: %d sent in %d message(s); %d recipient(s) failed",
                report.sent,
                report.messages,
                len(report.failed_owners),
            )
        return report

    def _due_soon(self, feed: FeedConfig) -> bool:
        """A healthy feed due within the last fetch's possible duration (see the docstring)."""
        state = self.runtime.store.feed_states.get(feed.id)
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
        if digest.monthly:
            self.send_monthly(digest)
        return outcome

    def send_monthly(self, digest: DigestConfig) -> MonthlyOutcome:
        """The last month's briefing, with the first digest of a month (bot/deliver/monthly.py)."""
        monthly = send_monthly(self.runtime, digest, self.poster)
        if monthly.status != "already-sent":
            log.info("monthly briefing for %s: %s", digest.channel, monthly.status)
        return monthly

    def prune_store(self) -> int:
        """Drop items past the retention window; durable on return."""
        with self.runtime.coordination.leading() as leader:
            removed = self.runtime.store.prune(self.runtime.clock()) if leader else 0
        if removed:
            log.info("retention: %d item(s) pruned", removed)
            self.runtime.search_index.forget_pruned()
        return removed

    def check_feed_health(self) -> list[str]:
        """Post a notice for each feed that crossed the failure threshold or recovered.

        Returns the notices given (also logged). See bot/deliver/notices.py.
        """
        feeds = {feed.id: feed for feed in self.runtime.config.enabled_feeds}
        with self.runtime.coordination.leading() as leader:
            if not leader:
                return []
            return self.notices.check(
                feeds, self.runtime.config.ops_channel, self.poster, self.runtime.notice
            )

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
        """What is scheduled, one line each, for the start-up log (see describe.py)."""
        return describe_jobs(
            self.runtime, self.next_run_times(), failure_notice=self.notices.failure_notice
        )
