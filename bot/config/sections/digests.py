"""The `digests:` section: per channel, when to post (time, zone, days) and what.

Digests name topics and feeds by id; those references are checked once the
whole file is read (`check_references`), against every id defined, so one bad
field in a feed does not also make each digest naming it "not defined".
"""

from __future__ import annotations

import difflib
import zoneinfo
from datetime import time

from yaml.nodes import Node, SequenceNode

from bot.config.checker import CHANNEL_RE, Checker, entry_label, line_of
from bot.config.model import DigestConfig
from bot.config.units import ALL_DAYS, parse_days, parse_time_of_day, show_value

__all__ = ["DIGEST_KEYS", "check_references", "read_digest"]

DIGEST_KEYS = (
    "channel",
    "at",
    "timezone",
    "days",
    "topics",
    "feeds",
    "max_items",
    "thread",
    "when_empty",
    "others",
    "summaries",
    "monthly",
)
WHEN_EMPTY = ("skip", "notice")
OTHERS = ("show", "count", "hide")


def read_digest(
    check: Checker, item: Node, index: int, seen: dict[str, int]
) -> DigestConfig | None:
    """Entry `index` (1-based) of `digests:`, or None (reported) when it is unusable."""
    label = entry_label(item, "digest", index, "channel", CHANNEL_RE)
    keys = check.mapping(item, label, DIGEST_KEYS, "a mapping with channel, at and timezone")
    if keys is None:
        return None
    where = f"digest #{index}"
    channel = None
    channel_node = keys.get("channel")
    if channel_node is None:
        check.report(item, where, "channel is required")
    else:
        channel = check.slack_id(channel_node, where, "channel", CHANNEL_RE, "channel")
    if channel is not None and channel_node is not None:
        where = f"digest {show_value(channel)}"
        if channel in seen:
            check.report(
                channel_node,
                where,
                f"duplicate channel (first digest at line {seen[channel]}); "
                "list all of a channel's topics in one digest",
            )
            channel = None
        else:
            seen[channel] = line_of(channel_node)
    at = _read_time(check, keys.get("at"), item, where)
    timezone = _read_timezone(check, keys.get("timezone"), item, where)
    days = ALL_DAYS
    days_node = keys.get("days")
    if days_node is not None:
        days = _read_days(check, days_node, where) or ALL_DAYS
    topic_ids = _read_ids(check, keys.get("topics"), where, "topic", "[entity-list]")
    feed_ids = _read_ids(check, keys.get("feeds"), where, "feed", "[fr-bis]")
    max_items = check.number(keys.get("max_items"), where, "max_items", int, 1, 200)
    thread = check.boolean(keys.get("thread"), where, "thread")
    when_empty = _read_choice(check, keys.get("when_empty"), where, "when_empty", WHEN_EMPTY)
    others = _read_choice(check, keys.get("others"), where, "others", OTHERS)
    summaries = check.boolean(keys.get("summaries"), where, "summaries")
    monthly = check.boolean(keys.get("monthly"), where, "monthly")
    if channel is None or at is None or timezone is None:
        return None
    return DigestConfig(
        channel=channel,
        at=at,
        timezone=timezone,
        days=days,
        topics=tuple(topic_ids),
        feeds=tuple(feed_ids),
        max_items=20 if max_items is None else max_items,
        thread=True if thread is None else thread,
        when_empty=when_empty or "skip",
        others=others or "show",
        summaries=bool(summaries),
        monthly=bool(monthly),
    )


def _read_choice(
    check: Checker, node: Node | None, where: str, key: str, choices: tuple[str, ...]
) -> str | None:
    """One of `choices`, or None (reported when it is something else)."""
    value = check.text(node, where, key)
    if value is None or value in choices:
        return value
    quoted = [f"'{choice}'" for choice in choices]
    allowed = f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    check.report(node, where, f"{key} must be {allowed}, not {show_value(value)}")
    return None


def _read_time(check: Checker, node: Node | None, item: Node, where: str) -> time | None:
    if node is None:
        check.report(item, where, "at is required (the local time to post, such as 08:30)")
        return None
    # The raw text, so that an unquoted 18:30 is a time and not YAML 1.1's
    # base-60 integer 1110.
    value = check.text(node, where, "at", required=True, limit=20)
    if value is None:
        return None
    try:
        return parse_time_of_day(value)
    except ValueError as err:
        check.report(node, where, f"at {err}")
        return None


def _read_timezone(check: Checker, node: Node | None, item: Node, where: str) -> str | None:
    if node is None:
        check.report(item, where, "timezone is required (an IANA name such as Asia/Tokyo)")
        return None
    value = check.text(node, where, "timezone", required=True, limit=100)
    if value is None:
        return None
    problem = _check_timezone(value)
    if problem is not None:
        check.report(node, where, f"timezone {show_value(value)} {problem}")
        return None
    return value


def _read_days(check: Checker, node: Node, where: str) -> frozenset[int] | None:
    example = "mon-fri, mon,wed,fri, daily or weekdays"
    if isinstance(node, SequenceNode):
        parts = [check.text(n, where, "a day", required=True, limit=40) for n in node.value]
        if any(p is None for p in parts):
            return None
        spec: str | list[str] = [p for p in parts if p is not None]
        shown = "[" + ", ".join(spec) + "]"
    else:
        text = check.text(node, where, "days", required=True, limit=200)
        if text is None:
            return None
        spec, shown = text, show_value(text)
    try:
        return parse_days(spec)
    except ValueError as err:
        check.report(node, where, f"days {shown} is not a day list such as {example}: {err}")
        return None


def _read_ids(check: Checker, node: Node | None, where: str, kind: str, example: str) -> list[str]:
    """The ids a digest names (topics: or feeds:), remembered for check_references."""
    out: list[str] = []
    for item in check.sequence(node, where, f"{kind}s", example):
        value = check.text(item, where, f"an entry of {kind}s", required=True, limit=64)
        if value is not None and value not in out:
            out.append(value)
            check.references.append((where, kind, value, item))
    return out


def check_references(
    check: Checker, feed_lines: dict[str, int], topic_lines: dict[str, int]
) -> None:
    """Digests must name defined topics and feeds (checked once all are read).

    The ids include those of entries with other errors, so one bad field in
    a feed does not also make every digest naming it "not defined".
    """
    for where, kind, ref, node in check.references:
        defined = topic_lines if kind == "topic" else feed_lines
        if ref in defined:
            continue
        hint = difflib.get_close_matches(ref, list(defined), n=1, cutoff=0.6)
        tail = f" (did you mean {show_value(hint[0])}?)" if hint else ""
        check.report(node, where, f"names {kind} {show_value(ref)}, which is not defined{tail}")


def _check_timezone(name: str) -> str | None:
    """None when `name` is a known IANA zone, else what is wrong."""
    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    known = zoneinfo.available_timezones()
    if not known:
        return (
            "cannot be checked: no IANA time zone database was found on this machine "
            "(install the tzdata package)"
        )
    by_lower = {zone.lower(): zone for zone in known}
    hint = [by_lower[name.lower()]] if name.lower() in by_lower else []
    hint = hint or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    tail = f" (did you mean {show_value(hint[0])}?)" if hint else ""
    return f"is not a known IANA time zone such as Asia/Tokyo or America/New_York{tail}"
