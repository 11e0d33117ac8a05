"""What is scheduled, as the lines the service logs at start-up.

One line each: the feeds, every poll and digest job with its next run, the
channels the bot posts to, then alert dispatch, feed health and retention.
Never contains a secret: feed URLs are left out. Next run times come from the
scheduler, keyed by job id; a job with none is "not scheduled".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.app.runtime import Runtime
from bot.app.scheduler.triggers import (
    DISPATCH_EVERY,
    DISPATCH_JOB,
    HEALTH_JOB,
    RETENTION_JOB,
    digest_job_id,
    poll_job_id,
)
from bot.brief.schedule import digest_zone
from bot.config.model import Config
from bot.config.units import format_days, format_duration
from bot.models import UTC

__all__ = ["describe_jobs"]

Runs = Mapping[str, datetime | None]


def describe_jobs(runtime: Runtime, runs: Runs, *, failure_notice: timedelta) -> list[str]:
    """The start-up lines for `runtime`'s configuration, given each job's next run by job id."""
    config = runtime.config
    return [
        _feeds_summary(config),
        *_poll_lines(config, runs),
        *_digest_lines(config, runs),
        _channels_line(runtime),
        f"alert dispatch: every {format_duration(DISPATCH_EVERY.total_seconds())}, "
        f"next {_show_time(runs.get(DISPATCH_JOB))}",
        _health_line(config, runs, failure_notice),
        f"retention: {config.settings.retention_days} days, next prune "
        f"{_show_time(runs.get(RETENTION_JOB))}",
    ]


def _feeds_summary(config: Config) -> str:
    paused = [f.id for f in config.feeds if not f.enabled]
    enabled = [f.id for f in config.enabled_feeds]
    summary = f"feeds: {len(enabled)} enabled"
    if paused:
        summary += f", {len(paused)} paused ({', '.join(paused)})"
    return summary


def _poll_lines(config: Config, runs: Runs) -> list[str]:
    return [
        f"poll {feed.id} ({feed.display_name}): every "
        f"{format_duration(feed.interval_seconds)}, next "
        f"{_show_time(runs.get(poll_job_id(feed.id)))}"
        for feed in config.enabled_feeds
    ]


def _digest_lines(config: Config, runs: Runs) -> list[str]:
    lines = []
    for digest in config.digests:
        when = runs.get(digest_job_id(digest.channel))
        local = ""
        if when is not None:
            local = f"{when.astimezone(digest_zone(digest)):%Y-%m-%d %H:%M %Z} = "
        lines.append(
            f"digest {digest.channel}: {digest.at:%H:%M} {digest.timezone} "
            f"{format_days(digest.days)}, next {local}{_show_time(when)}"
        )
    return lines


def _channels_line(runtime: Runtime) -> str:
    """Each channel the bot posts to and what for; how many people get direct messages."""
    config = runtime.config
    channels: dict[str, list[str]] = {}
    for digest in config.digests:
        channels.setdefault(digest.channel, []).append("digest")
    if config.ops_channel:
        channels.setdefault(config.ops_channel, []).append("ops notices")
    people = set()
    for sub in runtime.store.subscriptions.list():
        if sub.owner_is_channel:
            uses = channels.setdefault(sub.owner, [])
            if "alerts" not in uses:
                uses.append("alerts")
        else:
            people.add(sub.owner)
    shown = [f"{c} ({', '.join(uses)})" for c, uses in sorted(channels.items())]
    text = "channels: " + (", ".join(shown) if shown else "none")
    return text + f"; direct-message alerts for {len(people)} user(s)"


def _health_line(config: Config, runs: Runs, failure_notice: timedelta) -> str:
    target = (
        f"notices to {config.ops_channel}"
        if config.ops_channel
        else "no ops_channel, notices only logged"
    )
    threshold = format_duration(failure_notice.total_seconds())
    return (
        f"feed health: {target} after {threshold} failing; "
        f"next check {_show_time(runs.get(HEALTH_JOB))}"
    )


def _show_time(moment: datetime | None) -> str:
    if moment is None:
        return "not scheduled"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
