"""The record tables: each typed record to its JSON value and back (both backends).

Tables (`rec_<name>`: in TinyDB's state.json, in PostgreSQL's `records`
table; the JSON each holds is the release-1 layout, so a data directory
written by an older briefbot reads unchanged):

    subscriptions       id -> Subscription
    alerts              owner -> {"alerts": {alert key: Alert}}: the queue, one record per owner
    alerts_sent         UTC day -> {"sent": {alert key: delivered at}}
    cursors             "match" -> {"seq": N}
    digests             channel -> {"seq", "last_sent", "inflight", "partial"}: DigestState
    inflight_alerts     delivery key -> {"owner", "channel", "since_ts", "keys"}: AlertDelivery
    delivery_errors     channel or user -> {"error", "at"}: DeliveryProblem
    feed_overrides      feed id -> FeedOverride
    schedule_overrides  channel -> ScheduleOverride
    ops_notices         feed id -> {"failing_since", "notified_at"}: OpsNotice

Reading a value raises ValueError naming what is wrong with a damaged one;
the repositories log it and skip the record, so one bad record never stops a
listing or a delivery.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.models import Alert, SlackMessage, Subscription, as_utc
from bot.store.ports import (
    AddedFeed,
    AlertDelivery,
    DeliveryProblem,
    DigestPost,
    DigestState,
    FeedOverride,
    OpsNotice,
    ScheduleOverride,
)
from bot.store.records.codec import iso, parse_time

log = logging.getLogger(__name__)

__all__ = [
    "alert_from_json",
    "alert_to_json",
    "delivery_from_json",
    "delivery_to_json",
    "digest_from_json",
    "digest_to_json",
    "feed_override_from_json",
    "feed_override_to_json",
    "notice_from_json",
    "notice_to_json",
    "problem_from_json",
    "problem_to_json",
    "schedule_from_json",
    "schedule_to_json",
    "subscription_from_json",
    "subscription_to_json",
]


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is {value!r}, not an ISO 8601 time")
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"{what} is {value!r}, not an ISO 8601 time") from None


def _int(value: Any, what: str, *, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{what} is {value!r}, not an integer >= {low}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is {value!r}, not a non-empty text")
    return value


# --------------------------------------------------------------------------- subscriptions


def subscription_to_json(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "owner": sub.owner,
        "created_by": sub.created_by,
        "created_at": as_utc(sub.created_at).isoformat(),
        "topic": sub.topic,
        "query": sub.query,
        "mode": sub.mode,
        "daily_at": sub.daily_at,
        "timezone": sub.timezone,
        "muted": sub.muted,
        "remind": list(sub.remind),
        **workspace_to_json(sub.team_id, sub.enterprise_id),
    }


def workspace_to_json(team_id: str, enterprise_id: str) -> dict[str, str]:
    """A record's workspace keys, left out with one workspace (records stay as they were)."""
    found = {"team_id": team_id, "enterprise_id": enterprise_id}
    return {name: value for name, value in found.items() if value}


def workspace_from_json(record: Mapping[str, Any]) -> tuple[str, str]:
    """(team_id, enterprise_id) of a record; "" for each one absent (older records)."""
    team, enterprise = record.get("team_id", ""), record.get("enterprise_id", "")
    return (
        team if isinstance(team, str) else "",
        enterprise if isinstance(enterprise, str) else "",
    )


def subscription_from_json(record: Mapping[str, Any]) -> Subscription:
    """Missing optional keys take the dataclass defaults (records of older versions)."""
    try:
        sub_id, owner, created_by = record["id"], record["owner"], record["created_by"]
        created_at = datetime.fromisoformat(record["created_at"])
    except KeyError as err:
        raise ValueError(f"subscription record lacks {err.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ValueError(
            f"subscription record has a bad created_at: {record.get('created_at')!r}"
        ) from None
    for name, value in {"id": sub_id, "owner": owner, "created_by": created_by}.items():
        _text(value, f"subscription record's {name}")
    topic, query = record.get("topic"), record.get("query")
    if not (isinstance(topic, str) and topic) and not (isinstance(query, str) and query):
        raise ValueError(f"subscription record {sub_id} names neither a topic nor a query")
    defaults = Subscription(id=sub_id, owner=owner, created_by=created_by, created_at=created_at)
    return Subscription(
        id=sub_id,
        owner=owner,
        created_by=created_by,
        created_at=as_utc(created_at),
        topic=topic or None,
        query=query or None,
        mode=str(record.get("mode", defaults.mode)),
        daily_at=str(record.get("daily_at", defaults.daily_at)),
        timezone=str(record.get("timezone", defaults.timezone)),
        muted=bool(record.get("muted", False)),
        remind=_remind(record.get("remind", defaults.remind), sub_id),
        team_id=workspace_from_json(record)[0],
        enterprise_id=workspace_from_json(record)[1],
    )


def _remind(value: Any, sub_id: str) -> tuple[int, ...]:
    """Days before a deadline, largest first; an unreadable list is the default, logged."""
    if isinstance(value, list | tuple) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        return tuple(sorted(set(value), reverse=True))
    log.warning(
        "subscription %s: unreadable remind %r; reminders 7 and 1 days before", sub_id, value
    )
    return (7, 1)


# --------------------------------------------------------------------------- alerts


def alert_to_json(alert: Alert) -> dict[str, Any]:
    return {
        "owner": alert.owner,
        "item_seq": alert.item_seq,
        "subscription_ids": list(alert.subscription_ids),
        "created_at": as_utc(alert.created_at).isoformat(),
        "due_at": as_utc(alert.due_at).isoformat(),
        **workspace_to_json(alert.team_id, alert.enterprise_id),
    }


def alert_from_json(record: Mapping[str, Any]) -> Alert:
    try:
        owner, seq, ids = record["owner"], record["item_seq"], record["subscription_ids"]
        created_at, due_at = record["created_at"], record["due_at"]
    except KeyError as err:
        raise ValueError(f"alert record lacks {err.args[0]!r}") from None
    if not isinstance(owner, str) or not owner:
        raise ValueError(f"alert record has a bad owner: {owner!r}")
    _int(seq, "alert record's item_seq", low=1)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError(f"alert record has bad subscription_ids: {ids!r}")
    return Alert(
        owner=owner,
        item_seq=seq,
        subscription_ids=tuple(ids),
        created_at=_time(created_at, "alert record's created_at"),
        due_at=_time(due_at, "alert record's due_at"),
        team_id=workspace_from_json(record)[0],
        enterprise_id=workspace_from_json(record)[1],
    )


def delivery_to_json(delivery: AlertDelivery) -> dict[str, Any]:
    return {
        "owner": delivery.owner,
        "channel": delivery.channel,
        "since_ts": delivery.since_ts,
        "keys": list(delivery.alert_keys),
        **workspace_to_json(delivery.team_id, delivery.enterprise_id),
    }


def delivery_from_json(key: str, record: Mapping[str, Any]) -> AlertDelivery:
    keys = record.get("keys")
    since = record.get("since_ts")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"delivery record {key} has bad keys: {keys!r}")
    if not isinstance(since, int | float) or isinstance(since, bool):
        raise ValueError(f"delivery record {key} has a bad since_ts: {since!r}")
    return AlertDelivery(
        key=key,
        owner=str(record.get("owner") or ""),
        channel=_text(record.get("channel"), f"delivery record {key}'s channel"),
        since_ts=float(since),
        alert_keys=tuple(keys),
        team_id=workspace_from_json(record)[0],
        enterprise_id=workspace_from_json(record)[1],
    )


# --------------------------------------------------------------------------- digests


def _message_to_json(message: SlackMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "blocks": [dict(block) for block in message.blocks],
        "in_thread": message.in_thread,
    }


def _message_from_json(value: Mapping[str, Any]) -> SlackMessage:
    return SlackMessage(
        text=str(value.get("text") or ""),
        blocks=tuple(copy.deepcopy(value.get("blocks") or ())),
        in_thread=bool(value.get("in_thread")),
    )


def _post_to_json(post: DigestPost, *, partial: bool) -> dict[str, Any]:
    value: dict[str, Any] = {
        "key": post.key,
        "since_ts": post.since_ts,
        "seq": post.seq,
        "scheduled_for": post.scheduled_for.isoformat(),
        "items": post.items,
        "parts": post.parts,
        "messages": None if post.messages is None else [_message_to_json(m) for m in post.messages],
    }
    if partial:
        value.update(ts=post.ts, posted=post.posted)
    return value


def _post_from_json(value: Mapping[str, Any], what: str) -> DigestPost:
    messages = value.get("messages")
    ts = value.get("ts")
    # Partial records written before since_ts was kept look from the thread's ts.
    since = value.get("since_ts", ts)
    if not isinstance(since, int | float | str) or isinstance(since, bool):
        raise ValueError(f"{what} has a bad since_ts: {since!r}")
    return DigestPost(
        key=_text(value.get("key"), f"{what}'s key"),
        since_ts=float(since),
        seq=_int(value.get("seq"), f"{what}'s seq"),
        scheduled_for=_time(value.get("scheduled_for"), f"{what}'s scheduled_for"),
        items=int(value.get("items") or 0),
        parts=int(value.get("parts") or 0),
        messages=None
        if not isinstance(messages, list)
        else tuple(_message_from_json(m) for m in messages if isinstance(m, Mapping)),
        posted=int(value.get("posted") or 0),
        ts=None if ts is None else str(ts),
    )


def digest_to_json(state: DigestState) -> dict[str, Any]:
    return {
        "seq": state.seq,
        "last_sent": state.last_sent.isoformat(),
        "inflight": None
        if state.inflight is None
        else _post_to_json(state.inflight, partial=False),
        "partial": None if state.partial is None else _post_to_json(state.partial, partial=True),
    }


def digest_from_json(channel: str, record: Mapping[str, Any]) -> DigestState:
    what = f"digest record of {channel}"
    inflight, partial = record.get("inflight"), record.get("partial")
    return DigestState(
        channel=channel,
        seq=_int(record.get("seq"), f"{what}'s seq"),
        last_sent=_time(record.get("last_sent"), f"{what}'s last_sent"),
        inflight=_post_from_json(inflight, f"{what}'s inflight") if inflight else None,
        partial=_post_from_json(partial, f"{what}'s partial") if partial else None,
    )


def problem_to_json(problem: DeliveryProblem) -> dict[str, Any]:
    return {"error": problem.error, "at": None if problem.at is None else problem.at.isoformat()}


def problem_from_json(target: str, record: Mapping[str, Any]) -> DeliveryProblem:
    return DeliveryProblem(
        target=target, error=str(record.get("error") or ""), at=parse_time(record.get("at"))
    )


# --------------------------------------------------------------------------- overrides, notices


def feed_override_to_json(override: FeedOverride) -> dict[str, Any]:
    value: dict[str, Any] = {}
    if override.added is not None:
        added = override.added
        value["added"] = {"url": added.url, "tags": list(added.tags), "interval": added.interval}
    if override.enabled is not None:
        value["enabled"] = override.enabled
    if override.removed:
        value["removed"] = True
    value.update(by=override.by, changed_at=iso(override.changed_at))
    value.update(workspace_to_json(override.team_id, ""))
    if override.followers:
        value["followers"] = list(override.followers)
    return value


def feed_override_from_json(feed_id: str, record: Mapping[str, Any]) -> FeedOverride:
    added = record.get("added")
    enabled = record.get("enabled")
    return FeedOverride(
        feed_id=feed_id,
        added=_added_from_json(feed_id, added) if isinstance(added, Mapping) else None,
        enabled=enabled if isinstance(enabled, bool) else None,
        removed=bool(record.get("removed")),
        by=str(record.get("by") or ""),
        changed_at=parse_time(record.get("changed_at")),
        team_id=workspace_from_json(record)[0],
        followers=_followers(record.get("followers")),
    )


def _followers(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(team) for team in value if isinstance(team, str) and team)


def _added_from_json(feed_id: str, added: Mapping[str, Any]) -> AddedFeed:
    url, tags, interval = added.get("url"), added.get("tags", []), added.get("interval")
    if not isinstance(url, str) or not isinstance(tags, list):
        raise ValueError(f"feed {feed_id} added from Slack has a bad url or tags")
    if interval is not None and (not isinstance(interval, int) or isinstance(interval, bool)):
        raise ValueError(f"feed {feed_id} added from Slack has a bad interval: {interval!r}")
    return AddedFeed(url=url, tags=tuple(str(tag) for tag in tags), interval=interval)


def schedule_to_json(override: ScheduleOverride) -> dict[str, Any]:
    return {
        "at": override.at,
        "timezone": override.timezone,
        "days": override.days,
        "by": override.by,
        "changed_at": iso(override.changed_at),
        **workspace_to_json(override.team_id, override.enterprise_id),
    }


def schedule_from_json(channel: str, record: Mapping[str, Any]) -> ScheduleOverride:
    try:
        at, zone, days = record["at"], record["timezone"], record["days"]
    except KeyError as err:
        raise ValueError(f"the schedule set from Slack lacks {err.args[0]!r}") from None
    return ScheduleOverride(
        channel=channel,
        at=str(at),
        timezone=str(zone),
        days=str(days),
        by=str(record.get("by") or ""),
        changed_at=parse_time(record.get("changed_at")),
        team_id=workspace_from_json(record)[0],
        enterprise_id=workspace_from_json(record)[1],
    )


def notice_to_json(notice: OpsNotice) -> dict[str, Any]:
    return {
        "failing_since": notice.failing_since.isoformat(),
        "notified_at": iso(notice.notified_at),
    }


def notice_from_json(feed_id: str, record: Mapping[str, Any]) -> OpsNotice:
    return OpsNotice(
        feed_id=feed_id,
        failing_since=_time(record.get("failing_since"), f"notice of feed {feed_id}"),
        notified_at=parse_time(record.get("notified_at")),
    )
