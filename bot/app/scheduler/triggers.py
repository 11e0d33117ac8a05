"""When each job runs: the job ids, the fixed periods, and `DigestTrigger` for digests.

Digest timing. APScheduler 3.11's CronTrigger gets some local times wrong on
DST nights (see bot/brief/schedule.py). `DigestTrigger` asks
`bot.brief.schedule.next_digest_time` instead, the same function start-up
catch-up (`Runtime.catch_up_digests`) uses, so live jobs and catch-up agree by
construction. A digest job has no misfire grace time: a digest fired late (the
machine slept) is sent late, not dropped. The job sends for the latest
scheduled instant at or before now (`latest_digest_time`);
`Runtime.send_digest` refuses a slot that was already sent, so a catch-up and
a live run never both post.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from bot.brief.schedule import digest_zone, next_digest_time, scheduled_times
from bot.config.model import DigestConfig
from bot.config.units import format_days

__all__ = [
    "DISPATCH_EVERY",
    "DISPATCH_FIRST_DELAY",
    "DISPATCH_JOB",
    "ENRICH_EVERY",
    "ENRICH_JOB",
    "HEALTH_EVERY",
    "HEALTH_JOB",
    "MISFIRE_GRACE_SECONDS",
    "REMIND_EVERY",
    "REMIND_JOB",
    "RETENTION_EVERY",
    "RETENTION_FIRST_DELAY",
    "RETENTION_JOB",
    "SERIAL_EVERY",
    "SERIAL_JOB",
    "START_SPREAD_SECONDS",
    "DigestTrigger",
    "digest_job_id",
    "latest_digest_time",
    "poll_job_id",
]

log = logging.getLogger(__name__)

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

# Federal Register enrichment: documents queued by polls (and refreshes) that came due.
ENRICH_EVERY = timedelta(minutes=1)
ENRICH_JOB = "fr-enrich"
# Deadline reminders: due at 09:00 on each subscriber's clock, so a quarter-hourly look.
REMIND_EVERY = timedelta(minutes=15)
REMIND_JOB = "reminders"
DISPATCH_JOB = "dispatch"
HEALTH_JOB = "feed-health"
RETENTION_JOB = "retention"
# The leader takes up items other replicas stored (bot/app/replicas.py): this often.
SERIAL_EVERY = timedelta(seconds=5)
SERIAL_JOB = "serial"


def poll_job_id(feed_id: str) -> str:
    return f"poll:{feed_id}"


def digest_job_id(channel: str) -> str:
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
