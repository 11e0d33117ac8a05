"""When a channel's digest is due: scheduled instants, the next one, and the one missed while down.

Pure functions over `DigestConfig` and aware datetimes; no clock is read here,
so the tests drive them with fixed instants. Every instant returned is in UTC.
A naive datetime given in is taken to be UTC, as everywhere else in the bot.

The schedule is a wall-clock time (`at`) on some weekdays (`days`) in the
channel's IANA zone, and it keeps that wall-clock time across daylight-saving
changes (08:30 in New York is 13:30 UTC in winter and 12:30 UTC in summer).
The weekday is the local one: Monday 08:30 in Tokyo is Sunday 23:30 UTC.
Two local times need a rule (PEP 495 names them "gap" and "fold"):

- a time that does not exist that day, because the clocks jumped over it
  (02:30 on a spring-forward night in New York), runs at the first instant
  after the jump (03:00 local);
- a time that happens twice, because the clocks went back (01:30 on a
  fall-back night in New York), runs once, at its first occurrence (fold=0).

These are Vixie cron's rules (cron(8), "Daylight Saving Time and other time
changes"): a skipped job runs right after the jump, and none runs twice.

Catch-up after downtime (`missed_digest`): a digest's content is "every item
since the last delivered digest" (a seq cursor), so however many scheduled
times passed while the bot was down, ONE digest sent on return covers the whole
gap: not zero times and not twice. A miss is caught up however old it is
(unlike APScheduler's misfire_grace_time, which would silently drop it): after
a weekend outage a mon-fri channel gets Friday's missed digest when the bot
comes back, then its usual Monday one.

APScheduler 3.11's CronTrigger does not follow these rules on DST nights
(measured: 02:30 on a spring-forward night fires at 03:30 local, 01:30 on a
fall-back night fires twice, and chaining from a 00:xx fire time after a
spring-forward skips the next day); `cron_fields` is for an equivalent
CronTrigger, but a scheduler that must be right on those nights should ask
`next_digest_time` for its fire times instead (tests/test_schedule.py pins
the differences).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict

from bot.config.model import DigestConfig
from bot.models import as_utc

__all__ = [
    "CronFields",
    "cron_fields",
    "digest_zone",
    "local_instant",
    "missed_digest",
    "next_digest_time",
    "scheduled_times",
]

# Weekday names as APScheduler's CronTrigger reads them (0 = Monday).
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Every schedule with at least one weekday fires within 7 days; the margin covers
# a calendar day a zone skipped entirely (Pacific/Apia skipped 30 December 2011).
_SEARCH_SPAN = timedelta(days=15)


class CronFields(TypedDict):
    """Keyword arguments for `apscheduler.triggers.cron.CronTrigger`."""

    hour: int
    minute: int
    day_of_week: str
    timezone: str


def digest_zone(digest: DigestConfig) -> zoneinfo.ZoneInfo:
    """The digest's time zone; ValueError naming the channel when the zone is unknown."""
    try:
        return zoneinfo.ZoneInfo(digest.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"digest for channel {digest.channel}: time zone {digest.timezone!r} is not a "
            "known IANA time zone such as Asia/Tokyo or America/New_York"
        ) from None


def local_instant(day: date, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone`, by the gap and fold rules above."""
    wall = datetime.combine(day, time(at.hour, at.minute, at.second))
    # PEP 495: fold=0 is the first of a repeated time, and for a skipped time
    # it applies the offset from before the jump, which lands after the jump.
    after_jump = wall.replace(tzinfo=zone).astimezone(UTC)
    if after_jump.astimezone(zone).replace(tzinfo=None) == wall:
        return after_jump
    # `wall` was skipped. fold=1 applies the offset from after the jump, which
    # lands before it; the jump itself (the first instant whose local time is
    # past `wall`) lies in between. Transitions fall on whole seconds.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = after_jump
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low) // timedelta(seconds=2))
        if middle.astimezone(zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return high


def scheduled_times(digest: DigestConfig, start: datetime, end: datetime) -> list[datetime]:
    """Every scheduled digest instant in (start, end], in UTC, oldest first."""
    zone = digest_zone(digest)
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        return []
    # A local date's time resolves to that date (or, past a skipped day, the
    # next one), so the local dates of start - 1 day .. end cover every instant.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date()
    found: set[datetime] = set()
    while day <= last_day:
        if day.weekday() in digest.days:
            instant = local_instant(day, digest.at, zone)
            if start < instant <= end:
                # A set: two dates can resolve to one instant around a skipped day.
                found.add(instant)
        day += timedelta(days=1)
    return sorted(found)


def next_digest_time(digest: DigestConfig, after: datetime) -> datetime:
    """The first scheduled instant strictly after `after`, in UTC.

    ValueError when the digest has no weekday to run on (the configuration
    refuses that, but a DigestConfig can be built by hand).
    """
    times = scheduled_times(digest, after, as_utc(after) + _SEARCH_SPAN)
    if not times:
        raise ValueError(f"digest for channel {digest.channel} has no weekday to run on")
    return times[0]


def missed_digest(
    digest: DigestConfig, last_sent: datetime | None, now: datetime
) -> datetime | None:
    """The latest scheduled instant in (last_sent, now], or None when none passed.

    Call it at start-up: a result is the one catch-up digest to send now,
    covering every scheduled time missed since `last_sent` (see the module
    docstring). `last_sent` None (the channel never got a digest) gives None:
    a new channel starts at its next scheduled time, with no catch-up. The
    live job can use the same test as its guard: a digest already sent for a
    slot (last_sent at or after it) is not due again.
    """
    if last_sent is None:
        return None
    now = as_utc(now)
    # Only the latest miss matters, and it lies within the last week when any
    # does, so an outage of months costs no more than one of hours.
    since = max(as_utc(last_sent), now - _SEARCH_SPAN)
    times = scheduled_times(digest, since, now)
    return times[-1] if times else None


def cron_fields(digest: DigestConfig) -> CronFields:
    """CronTrigger keyword arguments for the same schedule (seconds default to 0).

    See the module docstring for the nights on which CronTrigger disagrees.
    """
    return CronFields(
        hour=digest.at.hour,
        minute=digest.at.minute,
        day_of_week=",".join(_CRON_DAYS[day] for day in sorted(digest.days)),
        timezone=digest.timezone,
    )
