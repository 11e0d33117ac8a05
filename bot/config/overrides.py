"""Changes made from Slack to feeds and digest schedules: kept in the store, merged over feeds.yaml.

Two kinds of records (`bot.store.ports.FeedOverride`, `ScheduleOverride`),
written in the caller's transaction; the caller then calls
`Runtime.refresh_config()`:

    FeedOverride        a feed added from Slack (url, tags, interval), paused or
                        resumed (enabled), or a feeds.yaml feed hidden (removed)
    ScheduleOverride    a channel's digest time, zone and days

`effective_config(base, overrides)` is feeds.yaml with those applied: a removed
feed is gone, a paused one has `enabled=False`, an added one is appended, and
a channel's schedule replaces the time, zone and days of its feeds.yaml digest
(its topics, feeds and other settings stay) or creates a digest with defaults.

Not obvious:
- Validation is feeds.yaml's own: every value from Slack is checked by running
  `parse_config_text` over a one-entry document (JSON is YAML), so a feed or a
  schedule added from Slack obeys exactly the rules of feeds.yaml, with the
  same messages. Records are checked again when merged: a damaged record is
  logged and skipped, never fatal.
- A feed added from Slack never gets `allow_private` or `allow_addresses`:
  Slack users must not be able to point the bot at the operator's network.
  Its host is read as the fetcher will read it (bot/config/hosts.py: UTS 46,
  so `ｌｏｃａｌｈｏｓｔ` is localhost) and judged by the one private-address
  policy (bot/config/addresses.py, through config's check): literal
  addresses, numeric forms that resolvers read as IPv4 (`2130706433`,
  `0x7f.1`, `127.1`) and localhost names. Names that resolve to private
  addresses are refused by the fetch guard, which `/brief feed add` runs once
  before saving (bot/app/commands/feeds.py). The URL is saved with its host
  normalised, so the same feed typed two ways is one feed.
- A new feed id is derived from the URL's host and path, and never reuses an
  id that has stored feed state: a feed inheriting another's "first poll done"
  would push its whole backlog as new alerts.
- feeds.yaml wins on ids: if the operator later defines a feed with the id of
  one added from Slack, the Slack entry is ignored (its pause still applies).
- Removing a feed of feeds.yaml only hides it; resuming it brings it back.
  Removing a feed added from Slack deletes its record. Stored items stay
  either way (retention prunes them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bot.config.hosts import InvalidHostError, normalize_host, normalize_url
from bot.config.model import SCREENING_LIST_FEED_ID, Config, ConfigError, DigestConfig
from bot.config.schema import parse_config_text
from bot.config.units import ALL_DAYS, format_days, format_duration
from bot.models import FeedConfig
from bot.store.ports import (
    AddedFeed,
    FeedOverride,
    OverrideReader,
    ReadView,
    ScheduleOverride,
    Transaction,
)

__all__ = [
    "OverrideError",
    "add_feed",
    "check_feed",
    "clear_schedule",
    "derive_feed_id",
    "effective_config",
    "feeds_added_from_slack",
    "plan_feed",
    "remove_feed",
    "removed_feed_ids",
    "set_feed_enabled",
    "set_schedule",
]

log = logging.getLogger(__name__)

# What config's messages name as the file: the change came from Slack.
_SOURCE = "/brief"
# Room for a "-NN" suffix inside config's 64-character id limit.
_ID_BASE_CHARS = 56
_FEED_SUFFIXES = re.compile(r"\.(?:xml|rss|atom|rdf|feed)$")


class OverrideError(ValueError):
    """A change from Slack that cannot be made; `str(error)` is the sentence for the user."""


# --------------------------------------------------------------------------- merging


def effective_config(base: Config, overrides: OverrideReader) -> Config:
    """feeds.yaml (`base`) with the feeds and schedules changed from Slack applied."""
    changes = overrides.feeds()
    feeds: list[FeedConfig] = []
    for feed in base.feeds:
        change = changes.get(feed.id)
        if change is None:
            feeds.append(feed)
        elif not change.removed:
            if change.added is not None:
                log.warning(
                    "feed %s was added from Slack and is now in %s too: using %s",
                    feed.id,
                    base.path,
                    base.path,
                )
            if change.enabled is not None:
                feed = dataclasses.replace(feed, enabled=change.enabled)
            feeds.append(feed)
    taken = {feed.id for feed in base.feeds}
    feeds += _added_feeds(changes, taken)
    digests = {digest.channel: digest for digest in base.digests}
    for channel, schedule in overrides.schedules().items():
        try:
            checked = _check_schedule(channel, schedule.at, schedule.timezone, schedule.days)
        except OverrideError as err:
            log.warning("skipping the digest schedule set from Slack for %s: %s", channel, err)
            continue
        current = digests.get(channel)
        digests[channel] = dataclasses.replace(
            checked if current is None else current,
            at=checked.at,
            timezone=checked.timezone,
            days=checked.days,
            team_id=schedule.team_id,
            enterprise_id=schedule.enterprise_id,
        )
    return dataclasses.replace(base, feeds=tuple(feeds), digests=tuple(digests.values()))


def _added_feeds(changes: Mapping[str, FeedOverride], taken: set[str]) -> list[FeedConfig]:
    """The feeds added from Slack whose ids feeds.yaml does not use, checked again."""
    feeds = []
    for feed_id, change in changes.items():
        if feed_id in taken or change.added is None:
            continue
        try:
            feed = check_feed(feed_id, change.added)
        except (OverrideError, TypeError, ValueError) as err:
            log.warning("skipping feed %s added from Slack: %s", feed_id, err)
            continue
        if change.enabled is False:
            feed = dataclasses.replace(feed, enabled=False)
        feeds.append(feed)
        taken.add(feed_id)
    return feeds


def feeds_added_from_slack(overrides: OverrideReader) -> dict[str, str]:
    """Feed id -> the Slack user who added it, for the feeds added from Slack."""
    return {
        feed_id: change.by
        for feed_id, change in overrides.feeds().items()
        if change.added is not None
    }


def removed_feed_ids(base: Config, overrides: OverrideReader) -> list[str]:
    """The feeds.yaml feeds hidden from Slack (`feed resume ID` brings one back)."""
    changes = overrides.feeds()
    return [feed.id for feed in base.feeds if feed.id in changes and changes[feed.id].removed]


# --------------------------------------------------------------------------- feeds


def add_feed(
    tx: Transaction,
    base: Config,
    url: str,
    *,
    tags: Sequence[str] = (),
    by: str,
    now: datetime,
) -> FeedConfig:
    """Record a feed added from Slack in `tx` and return it (checked by `plan_feed`)."""
    feed = plan_feed(tx, base, url, tags=tags)
    added = AddedFeed(url=feed.url, tags=feed.tags, interval=feed.interval_seconds)
    tx.overrides.put_feed(FeedOverride(feed.id, added=added, by=by, changed_at=now))
    return feed


def plan_feed(view: ReadView, base: Config, url: str, *, tags: Sequence[str] = ()) -> FeedConfig:
    """The feed `add_feed` would record for `url`, its host normalised; writes nothing.

    Raises OverrideError when the URL or a tag breaks feeds.yaml's rules, the
    host is a private address, or the URL is already a feed.
    """
    url = url.strip()
    checked = check_feed("new", AddedFeed(url=url, tags=tuple(str(tag) for tag in tags)))
    url = normalize_url(url)
    current = effective_config(base, view.overrides)
    for feed in current.feeds:
        if _same_url(feed.url, url):
            raise OverrideError(f"{url} is already feed {feed.id}")
    removed = set(removed_feed_ids(base, view.overrides))
    for feed in base.feeds:
        if feed.id in removed and _same_url(feed.url, url):
            raise OverrideError(
                f"{url} is feed {feed.id} of {base.path}, removed from Slack: "
                f"/brief feed resume {feed.id} brings it back"
            )
    taken = {f.id for f in base.feeds} | set(view.overrides.feeds()) | set(view.feed_states.all())
    taken.add(SCREENING_LIST_FEED_ID)  # the screening list's items
    return dataclasses.replace(checked, id=derive_feed_id(url, taken), url=url)


def feed_at_url(config: Config, url: str) -> FeedConfig | None:
    """The feed of `config` at `url` (compared as `plan_feed` compares), if any."""
    try:
        wanted = normalize_url(url.strip())
    except ValueError:
        return None
    return next((feed for feed in config.feeds if _same_url(feed.url, wanted)), None)


def _same_url(configured: str, normalised: str) -> bool:
    try:
        return normalize_url(configured.strip()) == normalised
    except ValueError:  # not a URL any more (an old record): not this one
        return configured.strip() == normalised


def remove_feed(
    tx: Transaction, base: Config, feed_id: str, *, by: str, now: datetime
) -> FeedConfig:
    """Remove a feed (hide it when feeds.yaml defines it) in `tx` and return it."""
    feed = _find_feed(tx.overrides, base, feed_id)
    if base.feed(feed.id) is None:
        tx.overrides.delete_feed(feed.id)
    else:
        change = tx.overrides.feeds().get(feed.id) or FeedOverride(feed.id)
        tx.overrides.put_feed(dataclasses.replace(change, removed=True, by=by, changed_at=now))
    return feed


def set_feed_enabled(
    tx: Transaction, base: Config, feed_id: str, enabled: bool, *, by: str, now: datetime
) -> FeedConfig:
    """Pause (`enabled=False`) or resume a feed in `tx` and return it as it is now.

    Resuming a feeds.yaml feed that was removed from Slack brings it back.
    """
    wanted = feed_id.strip()
    change = tx.overrides.feeds().get(wanted)
    if enabled and change is not None and change.removed:
        found = base.feed(wanted)
        if found is None:  # feeds.yaml dropped it meanwhile
            raise OverrideError(f"there is no feed {wanted!r}")
        feed, change = found, dataclasses.replace(change, removed=False)
    else:
        feed = _find_feed(tx.overrides, base, feed_id)
        change = tx.overrides.feeds().get(feed.id) or FeedOverride(feed.id)
    tx.overrides.put_feed(dataclasses.replace(change, enabled=enabled, by=by, changed_at=now))
    return dataclasses.replace(feed, enabled=enabled)


def derive_feed_id(url: str, taken: Iterable[str]) -> str:
    """An id for a feed from its URL's host and path, not in `taken`.

    "https://www.example.org/news/feed.xml" gives "example-org-news-feed";
    when that is taken, "example-org-news-feed-2", and so on.
    """
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    # 例え.jp -> xn--r8jz45g.jp; a host that is no valid IDN keeps its characters,
    # and the non-ASCII ones become dashes below.
    with contextlib.suppress(InvalidHostError):
        host = normalize_host(host)
    host = host.removeprefix("www.")
    path = _FEED_SUFFIXES.sub("", parts.path.lower().rstrip("/"))
    base = re.sub(r"[^a-z0-9]+", "-", f"{host} {path}".lower()).strip("-")
    base = base[:_ID_BASE_CHARS].rstrip("-") or "feed"
    used = set(taken)
    if base not in used:
        return base
    number = 2
    while f"{base}-{number}" in used:
        number += 1
    return f"{base}-{number}"


def _find_feed(overrides: OverrideReader, base: Config, feed_id: str) -> FeedConfig:
    wanted = feed_id.strip()
    feed = effective_config(base, overrides).feed(wanted)
    if feed is None:
        raise OverrideError(f"there is no feed {wanted!r}: /brief feeds lists them")
    return feed


def check_feed(feed_id: str, entry: AddedFeed) -> FeedConfig:
    """`entry` checked as a feeds.yaml feed without allow_private.

    The public check of a feed from Slack: feeds.yaml's rules and messages,
    the private-address policy (bot/config/addresses.py) included.
    """
    document: dict[str, Any] = {"id": feed_id, "url": entry.url, "tags": list(entry.tags)}
    if entry.interval is not None:
        document["interval"] = format_duration(entry.interval)
    try:
        config = parse_config_text(json.dumps({"feeds": [document]}), _SOURCE, env={})
    except ConfigError as err:
        prefix = f"feed '{feed_id}': "
        messages = [p.message.removeprefix(prefix) for p in err.problems]
        text = "; ".join(messages)
        if "allow_private" in text or "allow_addresses" in text:
            text += (
                " (feeds added from Slack cannot have allow_private or allow_addresses: "
                "ask an operator to add this feed)"
            )
        raise OverrideError(text) from None
    [feed] = config.feeds
    return feed


# --------------------------------------------------------------------------- schedules


def set_schedule(
    tx: Transaction,
    config: Config,
    channel: str,
    *,
    at: str,
    timezone: str | None = None,
    days: str | None = None,
    by: str,
    now: datetime,
) -> DigestConfig:
    """Set `channel`'s digest time in `tx`; zone and days default to its current ones.

    (Else UTC, every day.) `config` is the effective configuration (for the
    current schedule). Returns the channel's digest as it will be. Raises
    OverrideError with the checker's message for a bad time, zone, days or channel.
    """
    current = config.digest(channel)
    zone = timezone or (current.timezone if current else "UTC")
    day_spec = days or format_days(current.days if current else ALL_DAYS)
    checked = _check_schedule(channel, at, zone, day_spec)
    schedule = ScheduleOverride(
        channel=channel,
        at=f"{checked.at:%H:%M}",
        timezone=checked.timezone,
        days=format_days(checked.days),
        by=by,
        changed_at=now,
    )
    tx.overrides.put_schedule(schedule)
    if current is None:
        return checked
    return dataclasses.replace(current, at=checked.at, timezone=checked.timezone, days=checked.days)


def clear_schedule(tx: Transaction, channel: str) -> bool:
    """Drop the schedule set from Slack for `channel` in `tx`; False when there was none."""
    return tx.overrides.delete_schedule(channel)


def _check_schedule(channel: str, at: str, timezone: str, days: str) -> DigestConfig:
    entry = {"channel": channel, "at": at, "timezone": _canonical_zone(timezone), "days": days}
    try:
        config = parse_config_text(json.dumps({"digests": [entry]}), _SOURCE, env={})
    except ConfigError as err:
        messages = [re.sub(r"^digest (?:#\d+|'[^']*'): ", "", p.message) for p in err.problems]
        raise OverrideError("; ".join(messages)) from None
    [digest] = config.digests
    return digest


def _canonical_zone(name: str) -> str:
    """ "asia/tokyo" -> "Asia/Tokyo" (zone files are case-sensitive on most systems)."""
    cleaned = name.strip()
    try:
        zoneinfo.ZoneInfo(cleaned)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        by_lower = {zone.lower(): zone for zone in zoneinfo.available_timezones()}
        return by_lower.get(cleaned.lower(), cleaned)
    return cleaned
