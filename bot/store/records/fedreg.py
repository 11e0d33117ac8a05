"""The Federal Register table of state.json: the documents the enrichment fetches or watches.

    fr_documents   document number -> TrackedDocument (pending, or watched while a date is ahead)

It stays small: a tracked document leaves once it is enriched and its dates
have passed. A damaged record is logged and skipped, as in every other table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.models import as_utc
from bot.store.ports.fedreg import TrackedDocument
from bot.store.records.codec import iso
from bot.store.records.repos import RecordSource, read_all, read_one, record_table

__all__ = ["TrackedDocumentRepo"]

_DOCUMENTS = record_table("fr_documents")


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
