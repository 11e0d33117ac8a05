"""The persisted alert queue and the match cursor, as records in the store.

Tables (records in state.json, see `bot.store.tinydb.engine`):

    alerts        one record per owner: {"alerts": {Alert.key: alert}}: the queue
    alerts_sent   one record per UTC day: {"sent": {Alert.key: delivered_at}},
                  kept SENT_RETENTION
    cursors       key "match": {"seq": N}, the last item seq matched

Alerts are keyed by `Alert.key` ("owner:item_seq") inside those records, but
the records themselves are per owner and per day: the store's record API
rebuilds a whole table to insert or delete one record (TinyDB's
`Table._update_table`), so one record per alert made enqueueing 5,000 alerts
take 15 s and marking them delivered 20 s. Per owner and per day, a call
rewrites a handful of records whatever the number of alerts.

How a crash loses nothing and repeats nothing: the pipeline matches the items
with seq > the match cursor, enqueues the alerts and advances the cursor, and
commits once. Either the commit happened (alerts queued, cursor past the
items) or it did not (no alerts, cursor before the items, which are matched
again after the restart). Delivery takes `due_alerts`, posts them, then
`mark_delivered` and commits, which moves each key from the queue to
`alerts_sent`. Enqueueing skips keys found there and merges keys already
queued, so replaying a match (a cursor moved back, a restored backup) never
queues an alert twice or again after it went out.

The one window this module cannot close is at the Slack boundary: a crash
after Slack accepted a message and before `mark_delivered` was committed
sends that message again after the restart. Committing right after each
post keeps that to one message.

Nothing here commits: the caller does, so that the enqueue and the cursor
move land in one commit. Read-modify-write sequences hold a module lock, since
the poll thread enqueues while a delivery thread marks alerts delivered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.models import Alert, as_utc
from bot.store.tinydb.engine import Store

__all__ = [
    "ALERTS_TABLE",
    "CURSORS_TABLE",
    "MATCH_CURSOR_KEY",
    "SENT_RETENTION",
    "SENT_TABLE",
    "alert_to_record",
    "discard_subscription_alerts",
    "due_alerts",
    "enqueue_alerts",
    "get_match_cursor",
    "mark_delivered",
    "pending_count",
    "prune_sent",
    "queued_alerts",
    "record_to_alert",
    "sent_keys",
    "set_match_cursor",
]

log = logging.getLogger(__name__)

ALERTS_TABLE = "alerts"
SENT_TABLE = "alerts_sent"
CURSORS_TABLE = "cursors"
MATCH_CURSOR_KEY = "match"
#: How long a delivered key is remembered, to ignore a replayed match.
SENT_RETENTION = timedelta(days=7)

_QUEUE_LOCK = threading.RLock()


# --------------------------------------------------------------------------- records


def alert_to_record(alert: Alert) -> dict[str, Any]:
    """The stored form of `alert` (times as ISO 8601 in UTC)."""
    return {
        "owner": alert.owner,
        "item_seq": alert.item_seq,
        "subscription_ids": list(alert.subscription_ids),
        "created_at": as_utc(alert.created_at).isoformat(),
        "due_at": as_utc(alert.due_at).isoformat(),
    }


def record_to_alert(record: Mapping[str, Any]) -> Alert:
    """Read a stored alert back; raise ValueError naming what is wrong with a damaged one."""
    try:
        owner, seq, ids = record["owner"], record["item_seq"], record["subscription_ids"]
        created_at = _parse_utc(record["created_at"])
        due_at = _parse_utc(record["due_at"])
    except KeyError as err:
        raise ValueError(f"alert record lacks {err.args[0]!r}") from None
    if not isinstance(owner, str) or not owner:
        raise ValueError(f"alert record has a bad owner: {owner!r}")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError(f"alert record has a bad item_seq: {seq!r}")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError(f"alert record has bad subscription_ids: {ids!r}")
    return Alert(
        owner=owner,
        item_seq=seq,
        subscription_ids=tuple(ids),
        created_at=created_at,
        due_at=due_at,
    )


# --------------------------------------------------------------------------- the queue


def enqueue_alerts(store: Store, alerts: Iterable[Alert]) -> int:
    """Queue `alerts`; return how many keys are new to the queue. The caller commits.

    Idempotent: an alert whose key is already queued is merged into it (the
    subscription ids united, the earlier due time and creation time kept); one
    whose key was delivered within SENT_RETENTION is ignored. Subscription ids
    are kept sorted, so the result does not depend on the order of enqueues.
    """
    with _QUEUE_LOCK:
        sent = sent_keys(store)
        incoming: dict[str, dict[str, Alert]] = {}  # owner -> key -> merged alert
        for alert in alerts:
            key = alert.key
            if key in sent:
                continue
            mine = incoming.setdefault(alert.owner, {})
            old = mine.get(key)
            mine[key] = _canonical(alert) if old is None else _merge(old, alert)
        added = 0
        for owner, fresh in incoming.items():
            queued = _owner_queue(store, owner)
            for key, alert in fresh.items():
                old_record = queued.get(key)
                if old_record is None:
                    added += 1
                    queued[key] = alert_to_record(alert)
                    continue
                try:
                    merged = _merge(record_to_alert(old_record), alert)
                except ValueError as err:
                    # A damaged entry is replaced by the fresh alert rather than
                    # blocking this key forever.
                    log.warning("replacing damaged alert %r: %s", key, err)
                    merged = alert
                queued[key] = alert_to_record(merged)
            store.put_record(ALERTS_TABLE, owner, {"alerts": queued})
        return added


def queued_alerts(store: Store) -> list[Alert]:
    """Every queued alert, due or not, by item seq then owner. Damaged entries are skipped."""
    found: list[Alert] = []
    for owner, record in store.records(ALERTS_TABLE).items():
        for key, entry in _entries(owner, record).items():
            try:
                found.append(record_to_alert(entry))
            except ValueError as err:
                log.warning("skipping damaged alert %r: %s", key, err)
    found.sort(key=lambda alert: (alert.item_seq, alert.owner))
    return found


def due_alerts(store: Store, now: datetime) -> dict[str, list[Alert]]:
    """The alerts due at `now` (due_at <= now), by owner (sorted), each list by item seq."""
    now = as_utc(now)
    by_owner: dict[str, list[Alert]] = {}
    for alert in queued_alerts(store):
        if alert.due_at <= now:
            by_owner.setdefault(alert.owner, []).append(alert)
    return dict(sorted(by_owner.items()))


def pending_count(store: Store) -> int:
    """How many alerts are queued, due or not."""
    return sum(
        len(_entries(owner, record)) for owner, record in store.records(ALERTS_TABLE).items()
    )


def mark_delivered(store: Store, keys: Iterable[str], *, now: datetime) -> int:
    """Take delivered alerts off the queue and remember them as sent at `now`.

    Returns how many were queued. Keys not queued are remembered all the same
    (a replayed match must not queue them). The caller commits, right after
    the Slack post that carried them.
    """
    now = as_utc(now)
    by_owner: dict[str, list[str]] = {}
    for key in dict.fromkeys(keys):
        by_owner.setdefault(key.rpartition(":")[0], []).append(key)
    if not by_owner:
        return 0
    removed = 0
    with _QUEUE_LOCK:
        for owner, owned in by_owner.items():
            queued = _owner_queue(store, owner)
            before = len(queued)
            for key in owned:
                queued.pop(key, None)
            if len(queued) == before:
                continue
            removed += before - len(queued)
            if queued:
                store.put_record(ALERTS_TABLE, owner, {"alerts": queued})
            else:
                store.delete_record(ALERTS_TABLE, owner)
        day = now.date().isoformat()
        sent = _sent_bucket(store, day)
        stamp = now.isoformat()
        for owned in by_owner.values():
            for key in owned:
                sent[key] = stamp
        store.put_record(SENT_TABLE, day, {"sent": sent})
    return removed


def sent_keys(store: Store) -> set[str]:
    """The keys delivered within SENT_RETENTION (until `prune_sent` forgets them)."""
    keys: set[str] = set()
    for day, record in store.records(SENT_TABLE).items():
        sent = record.get("sent")
        if isinstance(sent, dict):
            keys.update(sent)
        else:
            log.warning("ignoring damaged sent-alerts record %r", day)
    return keys


def prune_sent(store: Store, now: datetime) -> int:
    """Forget delivered keys older than SENT_RETENTION (or unreadable); return how many."""
    cutoff = as_utc(now) - SENT_RETENTION
    forgotten = 0
    with _QUEUE_LOCK:
        for day, record in store.records(SENT_TABLE).items():
            sent = record.get("sent")
            if not isinstance(sent, dict):
                store.delete_record(SENT_TABLE, day)
                continue
            kept = {}
            for key, stamp in sent.items():
                try:
                    if _parse_utc(stamp) >= cutoff:
                        kept[key] = stamp
                except ValueError:
                    pass  # unreadable: forgotten like an old one
            forgotten += len(sent) - len(kept)
            if not kept:
                store.delete_record(SENT_TABLE, day)
            elif len(kept) < len(sent):
                store.put_record(SENT_TABLE, day, {"sent": kept})
    return forgotten


def discard_subscription_alerts(store: Store, subscription_ids: Iterable[str]) -> int:
    """Remove these subscriptions from queued alerts; drop alerts left naming none.

    Called when a subscription is removed or muted. Returns how many alerts
    were dropped. The caller commits.
    """
    gone = set(subscription_ids)
    dropped = 0
    with _QUEUE_LOCK:
        for owner, record in store.records(ALERTS_TABLE).items():
            queued = _entries(owner, record)
            changed = False
            for key, entry in list(queued.items()):
                ids = entry.get("subscription_ids")
                if not isinstance(ids, list) or gone.isdisjoint(ids):
                    continue
                changed = True
                kept = [sub_id for sub_id in ids if sub_id not in gone]
                if kept:
                    queued[key] = {**entry, "subscription_ids": kept}
                else:
                    del queued[key]
                    dropped += 1
            if not changed:
                continue
            if queued:
                store.put_record(ALERTS_TABLE, owner, {"alerts": queued})
            else:
                store.delete_record(ALERTS_TABLE, owner)
    return dropped


# --------------------------------------------------------------------------- the cursor


def get_match_cursor(store: Store) -> int:
    """The seq of the last item matched (0 before the first match)."""
    record = store.get_record(CURSORS_TABLE, MATCH_CURSOR_KEY)
    seq = None if record is None else record.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
        return seq
    if record is not None:
        log.warning("match cursor record %r is damaged; matching from the start", record)
    return 0


def set_match_cursor(store: Store, seq: int) -> None:
    """Record that items up to `seq` are matched; commit it with the alerts they produced.

    Moving it back is allowed and safe: the re-matched items' alerts merge
    into the queue or are ignored as already sent.
    """
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError(f"the match cursor must be an item seq (an integer >= 0), not {seq!r}")
    store.put_record(CURSORS_TABLE, MATCH_CURSOR_KEY, {"seq": seq})


# --------------------------------------------------------------------------- helpers


def _entries(owner: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The alerts of one owner's record by key; {} (and a warning) for a damaged record."""
    entries = record.get("alerts")
    if not isinstance(entries, dict):
        log.warning("ignoring damaged alert queue record of %r", owner)
        return {}
    return entries


def _owner_queue(store: Store, owner: str) -> dict[str, Any]:
    record = store.get_record(ALERTS_TABLE, owner)
    return {} if record is None else _entries(owner, record)


def _sent_bucket(store: Store, day: str) -> dict[str, Any]:
    record = store.get_record(SENT_TABLE, day)
    sent = None if record is None else record.get("sent")
    return sent if isinstance(sent, dict) else {}


def _canonical(alert: Alert) -> Alert:
    ids = tuple(sorted(set(alert.subscription_ids)))
    if ids == alert.subscription_ids:
        return alert
    return Alert(alert.owner, alert.item_seq, ids, alert.created_at, alert.due_at)


def _merge(old: Alert, new: Alert) -> Alert:
    return Alert(
        owner=old.owner,
        item_seq=old.item_seq,
        subscription_ids=tuple(sorted({*old.subscription_ids, *new.subscription_ids})),
        created_at=min(as_utc(old.created_at), as_utc(new.created_at)),
        due_at=min(as_utc(old.due_at), as_utc(new.due_at)),
    )


def _parse_utc(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 8601 time")
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from None
