"""The Federal Register tables of state.json: tracked documents and the reminder ledger.

    fr_documents   document number -> TrackedDocument (pending, or watched while a date is ahead)
    fr_reminders   reminder key -> Reminder (queued, sending, sent, dropped)

Both stay small: a tracked document leaves once it is enriched and its dates
have passed, a reminder once its deadline is past (`prune`). A damaged
record is logged and skipped, as in every other table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.models import as_utc
from bot.store.ports.fedreg import REMINDER_STATUSES, Reminder, TrackedDocument
from bot.store.tinydb.codec import iso
from bot.store.tinydb.repos import RecordSource, read_all, read_one, record_table

__all__ = ["ReminderRepo", "TrackedDocumentRepo"]

_DOCUMENTS = record_table("fr_documents")
_REMINDERS = record_table("fr_reminders")


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is {value!r}, not a non-empty text")
    return value


def _optional_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} is {value!r}, not a whole number")
    return value


def parse_utc(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is {value!r}, not an ISO 8601 time")
    return as_utc(datetime.fromisoformat(value))


def _day(value: Any, what: str) -> date:
    if not isinstance(value, str):
        raise ValueError(f"{what} is {value!r}, not a date")
    return date.fromisoformat(value)


def document_to_json(doc: TrackedDocument) -> dict[str, Any]:
    return {
        "items": [list(pair) for pair in doc.items],
        "next_attempt": iso(doc.next_attempt),
        "attempts": doc.attempts,
        "enriched": doc.enriched,
        "last_error": doc.last_error,
        "etag": doc.etag,
        "last_modified": doc.last_modified,
        "api_dates": [day.isoformat() if day else None for day in doc.api_dates],
    }


def document_from_json(number: str, value: Mapping[str, Any]) -> TrackedDocument:
    pairs = value.get("items")
    if not isinstance(pairs, list):
        raise ValueError(f"items is {pairs!r}, not a list")
    items = tuple(
        (_text(pair[0], "a feed id"), _text(pair[1], "an item id"))
        for pair in pairs
        if isinstance(pair, list) and len(pair) == 2
    )
    return TrackedDocument(
        document_number=number,
        items=items,
        next_attempt=parse_utc(value.get("next_attempt"), "next_attempt"),
        attempts=_int(value.get("attempts", 0), "attempts"),
        enriched=value.get("enriched") is True,
        last_error=_optional_text(value.get("last_error"), "last_error"),
        etag=_optional_text(value.get("etag"), "etag"),
        last_modified=_optional_text(value.get("last_modified"), "last_modified"),
        api_dates=_dates(value.get("api_dates")),
    )


def _dates(value: Any) -> tuple[date | None, date | None]:
    if not isinstance(value, list) or len(value) != 2:
        return (None, None)
    first, second = (None if day is None else _day(day, "api_dates") for day in value)
    return (first, second)


def reminder_to_json(reminder: Reminder) -> dict[str, Any]:
    return {
        "subscription": reminder.subscription_id,
        "owner": reminder.owner,
        "document": reminder.document_number,
        "kind": reminder.kind,
        "on": reminder.on.isoformat(),
        "days_before": reminder.days_before,
        "item_seq": reminder.item_seq,
        "due_at": iso(reminder.due_at),
        "created_at": iso(reminder.created_at),
        "status": reminder.status,
        "delivery_key": reminder.delivery_key,
        "channel": reminder.channel,
        "since_ts": reminder.since_ts,
        "sent_at": iso(reminder.sent_at),
    }


def reminder_from_json(key: str, value: Mapping[str, Any]) -> Reminder:
    status = value.get("status")
    if status not in REMINDER_STATUSES:
        raise ValueError(f"status is {status!r}, not one of {', '.join(REMINDER_STATUSES)}")
    since = value.get("since_ts")
    if since is not None and (not isinstance(since, int | float) or isinstance(since, bool)):
        raise ValueError(f"since_ts is {since!r}, not a number")
    sent = value.get("sent_at")
    reminder = Reminder(
        subscription_id=_text(value.get("subscription"), "subscription"),
        owner=_text(value.get("owner"), "owner"),
        document_number=_text(value.get("document"), "document"),
        kind=_text(value.get("kind"), "kind"),
        on=_day(value.get("on"), "on"),
        days_before=_int(value.get("days_before"), "days_before"),
        item_seq=_int(value.get("item_seq"), "item_seq"),
        due_at=parse_utc(value.get("due_at"), "due_at"),
        created_at=parse_utc(value.get("created_at"), "created_at"),
        status=status,
        delivery_key=_optional_text(value.get("delivery_key"), "delivery_key"),
        channel=_optional_text(value.get("channel"), "channel"),
        since_ts=None if since is None else float(since),
        sent_at=None if sent is None else parse_utc(sent, "sent_at"),
    )
    if reminder.key != key:
        raise ValueError(f"stored under {key!r} but its key is {reminder.key!r}")
    return reminder


class TrackedDocumentRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, document_number: str) -> TrackedDocument | None:
        value = self._source.value(_DOCUMENTS, document_number)
        return read_one(_DOCUMENTS, document_number, value, document_from_json)

    def all(self) -> list[TrackedDocument]:
        found = list(read_all(self._source, _DOCUMENTS, document_from_json).values())
        found.sort(key=lambda doc: (doc.next_attempt, doc.document_number))
        return found

    def due(self, now: datetime, *, limit: int) -> list[TrackedDocument]:
        return [doc for doc in self.all() if doc.next_attempt <= now][: max(0, limit)]

    def put(self, document: TrackedDocument) -> None:
        self._source.put(_DOCUMENTS, document.document_number, document_to_json(document))

    def delete(self, document_number: str) -> None:
        if self._source.value(_DOCUMENTS, document_number) is not None:
            self._source.delete(_DOCUMENTS, document_number)


class ReminderRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, key: str) -> Reminder | None:
        return read_one(_REMINDERS, key, self._source.value(_REMINDERS, key), reminder_from_json)

    def all(self) -> list[Reminder]:
        found = list(read_all(self._source, _REMINDERS, reminder_from_json).values())
        found.sort(key=lambda reminder: (reminder.due_at, reminder.key))
        return found

    def put(self, reminder: Reminder) -> None:
        self._source.put(_REMINDERS, reminder.key, reminder_to_json(reminder))

    def prune(self, before: date) -> int:
        gone = [r.key for r in self.all() if r.on < before and r.status in ("sent", "dropped")]
        for key in gone:
            self._source.delete(_REMINDERS, key)
        return len(gone)
