"""The reminder ledger's table of state.json (backend-neutral: built on `RecordSource` only).

    reminders   reminder key -> Reminder (sending, sent, failed)

It stays small: only reminders that went out (or are going out) are recorded,
and `prune` forgets those of deadlines past. A damaged record is logged and
skipped by `all`/`get`, but its key still counts in `keys`: a reminder whose
record cannot be read is not posted a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.models import as_utc
from bot.store.ports.reminders import REMINDER_STATUSES, Reminder
from bot.store.records.repos import RecordSource, read_all, read_one, record_table

__all__ = ["ReminderRepo", "reminder_from_json", "reminder_to_json"]

_REMINDERS = record_table("reminders")


def reminder_to_json(reminder: Reminder) -> dict[str, Any]:
    return {
        "owner": reminder.owner,
        "document": reminder.document_number,
        "kind": reminder.kind,
        "on": reminder.on.isoformat(),
        "days_before": reminder.days_before,
        "subscriptions": list(reminder.subscription_ids),
        "status": reminder.status,
        "delivery_key": reminder.delivery_key,
        "channel": reminder.channel,
        "since_ts": reminder.since_ts,
        "created_at": as_utc(reminder.created_at).isoformat(),
        "sent_at": None if reminder.sent_at is None else as_utc(reminder.sent_at).isoformat(),
    }


def reminder_from_json(key: str, value: Mapping[str, Any]) -> Reminder:
    status = value.get("status")
    if status not in REMINDER_STATUSES:
        raise ValueError(f"status is {status!r}, not one of {', '.join(REMINDER_STATUSES)}")
    since = value.get("since_ts")
    if not isinstance(since, int | float) or isinstance(since, bool):
        raise ValueError(f"since_ts is {since!r}, not a number")
    subs = value.get("subscriptions")
    if not isinstance(subs, list) or not all(isinstance(s, str) and s for s in subs):
        raise ValueError(f"subscriptions is {subs!r}, not a list of ids")
    sent = value.get("sent_at")
    reminder = Reminder(
        owner=_text(value.get("owner"), "owner"),
        document_number=_text(value.get("document"), "document"),
        kind=_text(value.get("kind"), "kind"),
        on=date.fromisoformat(_text(value.get("on"), "on")),
        days_before=_count(value.get("days_before"), "days_before"),
        subscription_ids=tuple(subs),
        status=status,
        delivery_key=_text(value.get("delivery_key"), "delivery_key"),
        channel=_text(value.get("channel"), "channel"),
        since_ts=float(since),
        created_at=_utc(value.get("created_at"), "created_at"),
        sent_at=None if sent is None else _utc(sent, "sent_at"),
    )
    if reminder.key != key:
        raise ValueError(f"stored under {key!r} but its key is {reminder.key!r}")
    return reminder


class ReminderRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, key: str) -> Reminder | None:
        return read_one(_REMINDERS, key, self._source.value(_REMINDERS, key), reminder_from_json)

    def all(self) -> list[Reminder]:
        found = read_all(self._source, _REMINDERS, reminder_from_json)
        return [found[key] for key in sorted(found)]

    def keys(self) -> set[str]:
        return set(self._source.values(_REMINDERS))

    def put(self, reminder: Reminder) -> None:
        self._source.put(_REMINDERS, reminder.key, reminder_to_json(reminder))

    def delete(self, key: str) -> None:
        if self._source.value(_REMINDERS, key) is not None:
            self._source.delete(_REMINDERS, key)

    def prune(self, before: date) -> int:
        gone = [r.key for r in self.all() if r.on < before and r.status != "sending"]
        for key in gone:
            self._source.delete(_REMINDERS, key)
        return len(gone)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is {value!r}, not a non-empty text")
    return value


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} is {value!r}, not a whole number")
    return value


def _utc(value: Any, what: str) -> datetime:
    return as_utc(datetime.fromisoformat(_text(value, what)))
