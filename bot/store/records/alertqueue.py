"""The alert queue, the keys already sent and the match cursor, as records (any backend).

Tables: `alerts` (one record per owner: `{"alerts": {Alert.key: alert}}`),
`alerts_sent` (one record per UTC day: `{"sent": {Alert.key: delivered_at}}`,
kept SENT_RETENTION) and `cursors` (`"match"`: `{"seq": N}`).

The records are per owner and per day, not per alert: a record write copies
its table (copy-on-write, see statefile.py), so one record per alert made
enqueueing 5,000 alerts rewrite a 5,000-entry table 5,000 times. Per owner and
per day, a call touches a handful of records whatever the number of alerts.

Why a replayed match never queues an alert twice: enqueueing skips keys found
in `alerts_sent` and merges keys already queued, so re-matching items (a
cursor moved back, a restored backup) changes nothing that was delivered.
A delivered alert also records one key per watch it named (`Alert.sent_keys`):
an alert for an item already sent keeps only the watches not yet told (a
watched name found when a rule's entities are named, after a subscription's
alert for the rule), so each watch hit is told once, subscriptions never twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.models import Alert, as_utc, watch_key
from bot.store.records import values as records
from bot.store.records.repos import RecordSource, record_table

__all__ = ["SENT_RETENTION", "AlertQueueRepo"]

log = logging.getLogger(__name__)

#: How long a delivered key is remembered, to ignore a replayed match.
SENT_RETENTION = timedelta(days=7)

_ALERTS = record_table("alerts")
_SENT = record_table("alerts_sent")
_CURSORS = record_table("cursors")
_MATCH = "match"


class AlertQueueRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    # -- reading -----------------------------------------------------------------

    def queued(self) -> list[Alert]:
        found: list[Alert] = []
        for owner, record in self._source.values(_ALERTS).items():
            for key, entry in _entries(owner, record).items():
                try:
                    found.append(records.alert_from_json(entry))
                except (ValueError, TypeError) as err:
                    log.warning("skipping damaged alert %r: %s", key, err)
        found.sort(key=lambda alert: (alert.item_seq, alert.owner))
        return found

    def due(self, now: datetime, *, owner: str | None = None) -> dict[str, list[Alert]]:
        now = as_utc(now)
        by_owner: dict[str, list[Alert]] = {}
        for alert in self.queued():
            if alert.due_at <= now and (owner is None or alert.owner == owner):
                by_owner.setdefault(alert.owner, []).append(alert)
        return dict(sorted(by_owner.items()))

    def pending_count(self) -> int:
        return sum(len(_entries(o, r)) for o, r in self._source.values(_ALERTS).items())

    def sent_keys(self) -> set[str]:
        keys: set[str] = set()
        for day, record in self._source.values(_SENT).items():
            sent = record.get("sent") if isinstance(record, Mapping) else None
            if isinstance(sent, dict):
                keys.update(sent)
            else:
                log.warning("ignoring damaged sent-alerts record %r", day)
        return keys

    def match_cursor(self) -> int:
        record = self._source.value(_CURSORS, _MATCH)
        seq = record.get("seq") if isinstance(record, Mapping) else None
        if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
            return seq
        if record is not None:
            log.warning("match cursor record %r is damaged; matching from the start", record)
        return 0

    # -- writing -----------------------------------------------------------------

    def enqueue(self, alerts: Iterable[Alert]) -> int:
        """Queue alerts: merged into queued ones with the same key, sent ones skipped.

        Subscription ids are kept sorted, so the result does not depend on the
        order of enqueues.
        """
        sent = self.sent_keys()
        incoming: dict[str, dict[str, Alert]] = {}  # owner -> key -> merged alert
        for alert in alerts:
            if alert.key in sent:
                untold = tuple(w for w in alert.watch_ids if watch_key(alert.key, w) not in sent)
                if not untold:
                    continue
                alert = replace(alert, subscription_ids=untold)
            mine = incoming.setdefault(alert.owner, {})
            old = mine.get(alert.key)
            mine[alert.key] = alert.canonical() if old is None else old.merged(alert)
        added = 0
        for owner, fresh in incoming.items():
            queued = self._owner_queue(owner)
            for key, alert in fresh.items():
                old_record = queued.get(key)
                added += old_record is None
                queued[key] = records.alert_to_json(_merge_with_stored(key, old_record, alert))
            self._source.put(_ALERTS, owner, {"alerts": queued})
        return added

    def mark_delivered(self, keys: Iterable[str], *, now: datetime) -> int:
        """Keys not queued are remembered as sent all the same (a replay must not queue them)."""
        now = as_utc(now)
        by_owner: dict[str, list[str]] = {}
        for key in dict.fromkeys(keys):
            by_owner.setdefault(key.rpartition(":")[0], []).append(key)
        if not by_owner:
            return 0
        removed = 0
        for owner, owned in by_owner.items():
            queued = self._owner_queue(owner)
            before = len(queued)
            for key in owned:
                queued.pop(key, None)
            removed += before - len(queued)
            if len(queued) != before:
                self._put_queue(owner, queued)
        day = now.date().isoformat()
        sent = self._sent_bucket(day)
        stamp = now.isoformat()
        for owned in by_owner.values():
            sent.update(dict.fromkeys(owned, stamp))
        self._source.put(_SENT, day, {"sent": sent})
        return removed

    def prune_sent(self, now: datetime) -> int:
        """Forget delivered keys older than SENT_RETENTION (or unreadable); return how many."""
        cutoff = as_utc(now) - SENT_RETENTION
        forgotten = 0
        for day, record in self._source.values(_SENT).items():
            sent = record.get("sent") if isinstance(record, Mapping) else None
            if not isinstance(sent, dict):
                self._source.delete(_SENT, day)
                continue
            kept = {key: stamp for key, stamp in sent.items() if _sent_since(stamp, cutoff)}
            forgotten += len(sent) - len(kept)
            if not kept:
                self._source.delete(_SENT, day)
            elif len(kept) < len(sent):
                self._source.put(_SENT, day, {"sent": kept})
        return forgotten

    def discard_subscriptions(self, subscription_ids: Iterable[str]) -> int:
        gone = set(subscription_ids)
        dropped = 0
        for owner, record in self._source.values(_ALERTS).items():
            if not any(_names(entry, gone) for entry in _entries(owner, record).values()):
                continue
            # Read again alone: on PostgreSQL a record read in a transaction is locked
            # until COMMIT (a whole-table read is not), so a concurrent enqueue is kept.
            queued = self._owner_queue(owner)
            changed = False
            for key, entry in list(queued.items()):
                if not _names(entry, gone):
                    continue
                changed = True
                kept = [sub_id for sub_id in entry["subscription_ids"] if sub_id not in gone]
                if kept:
                    queued[key] = {**entry, "subscription_ids": kept}
                else:
                    del queued[key]
                    dropped += 1
            if changed:
                self._put_queue(owner, queued)
        return dropped

    def set_match_cursor(self, seq: int) -> None:
        """Moving it back is allowed and safe: re-matched alerts merge or are skipped as sent."""
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError(f"the match cursor must be an item seq (an integer >= 0), not {seq!r}")
        self._source.put(_CURSORS, _MATCH, {"seq": seq})

    # -- helpers -------------------------------------------------------------------

    def _owner_queue(self, owner: str) -> dict[str, Any]:
        record = self._source.value(_ALERTS, owner)
        return {} if record is None else dict(_entries(owner, record))

    def _put_queue(self, owner: str, queued: dict[str, Any]) -> None:
        if queued:
            self._source.put(_ALERTS, owner, {"alerts": queued})
        else:
            self._source.delete(_ALERTS, owner)

    def _sent_bucket(self, day: str) -> dict[str, Any]:
        record = self._source.value(_SENT, day)
        sent = record.get("sent") if isinstance(record, Mapping) else None
        return dict(sent) if isinstance(sent, dict) else {}


def _entries(owner: str, record: Any) -> Mapping[str, Any]:
    """The alerts of one owner's record by key; {} (and a warning) for a damaged record."""
    entries = record.get("alerts") if isinstance(record, Mapping) else None
    if not isinstance(entries, dict):
        log.warning("ignoring damaged alert queue record of %r", owner)
        return {}
    return entries


def _names(entry: Any, subscription_ids: set[str]) -> bool:
    ids = entry.get("subscription_ids") if isinstance(entry, Mapping) else None
    return isinstance(ids, list) and not subscription_ids.isdisjoint(ids)


def _merge_with_stored(key: str, stored: Any, alert: Alert) -> Alert:
    if stored is None:
        return alert
    try:
        return records.alert_from_json(stored).merged(alert)
    except (ValueError, TypeError) as err:
        # A damaged entry is replaced by the fresh alert rather than
        # blocking this key forever.
        log.warning("replacing damaged alert %r: %s", key, err)
        return alert


def _sent_since(stamp: Any, cutoff: datetime) -> bool:
    try:
        return as_utc(datetime.fromisoformat(stamp)) >= cutoff
    except (TypeError, ValueError):
        return False  # unreadable: forgotten like an old one
