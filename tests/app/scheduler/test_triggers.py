"""`DigestTrigger`: DST-true fire times, the same instants as `next_digest_time` and catch-up.

Expected instants are worked out by hand in the comments, not by the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app.scheduler.triggers import DigestTrigger
from bot.brief.schedule import next_digest_time, scheduled_times
from bot.config.model import DigestConfig
from bot.config.units import parse_days


def make_digest(at: str, zone: str, days: str = "daily") -> DigestConfig:
    hour, minute = (int(part) for part in at.split(":"))
    return DigestConfig(
        channel="C0TEST",
        at=datetime(2026, 1, 1, hour, minute).time(),
        timezone=zone,
        days=parse_days(days),
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def chain(trigger: DigestTrigger, start: datetime, count: int) -> list[str]:
    """Fire times as APScheduler chains them: the first from `now`, then each from the last."""
    fired = []
    previous = None
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, previous or start)
        assert fire is not None
        fired.append(fire.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
        previous = fire
    return fired


@pytest.mark.parametrize(
    ("digest", "start", "expected"),
    [
        pytest.param(
            make_digest("02:30", "America/New_York"),
            "2026-03-07 00:00",
            # 8 March has no 02:30 EST/EDT: 03:00 EDT (07:00 UTC), right after the jump.
            ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30", "2026-03-10 06:30"],
            id="ny-0230-spring-forward-gap",
        ),
        pytest.param(
            make_digest("01:30", "America/New_York"),
            "2026-10-31 00:00",
            # 1 November has 01:30 twice (05:30 and 06:30 UTC): only the first.
            ["2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30"],
            id="ny-0130-fall-back-once",
        ),
        pytest.param(
            make_digest("00:00", "America/New_York"),
            "2026-03-07 00:00",
            # Midnight EST is 05:00 UTC; from Monday 9 March, EDT: 04:00 UTC. Monday not skipped.
            ["2026-03-07 05:00", "2026-03-08 05:00", "2026-03-09 04:00", "2026-03-10 04:00"],
            id="ny-midnight-chained-across-spring-forward",
        ),
        pytest.param(
            make_digest("01:30", "Europe/London"),
            "2026-03-28 00:00",
            # 29 March jumps 01:00 GMT -> 02:00 BST: 02:00 BST is 01:00 UTC.
            ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"],
            id="london-0130-gap",
        ),
        pytest.param(
            make_digest("08:30", "Asia/Tokyo", "mon-fri"),
            "2026-11-27 00:00",  # Friday 09:00 JST: Friday's digest has gone
            # Monday 30 November 08:30 JST = Sunday 23:30 UTC.
            ["2026-11-29 23:30", "2026-11-30 23:30"],
            id="tokyo-weekdays-skip-the-weekend",
        ),
    ],
)
def test_digest_trigger_fire_times(digest: DigestConfig, start: str, expected: list[str]) -> None:
    assert chain(DigestTrigger(digest), utc(start), len(expected)) == expected


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(make_digest("02:30", "America/New_York", "mon-fri"), id="ny-0230-weekdays"),
        pytest.param(make_digest("01:30", "Europe/London"), id="london-0130"),
        pytest.param(make_digest("17:45", "Australia/Sydney"), id="sydney-1745"),
    ],
)
def test_digest_trigger_agrees_with_next_digest_time_over_a_year(digest: DigestConfig) -> None:
    trigger = DigestTrigger(digest)
    start, end = utc("2026-01-01 00:00"), utc("2027-01-01 00:00")
    fired, previous = [], None
    while True:
        fire = trigger.get_next_fire_time(previous, previous or start)
        assert fire is not None
        if fire > end:
            break
        fired.append(fire)
        previous = fire
    assert fired == scheduled_times(digest, start, end)
    after = utc("2026-01-01 00:07:13")  # never on a slot
    while after < end:
        assert trigger.get_next_fire_time(None, after) == next_digest_time(digest, after)
        after += timedelta(hours=7, minutes=41)
