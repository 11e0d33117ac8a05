"""Federal Register state: documents waiting for (or watched by) the enrichment, and reminders.

`TrackedDocument`: a document number the enrichment has to fetch (new items
of a feed with `enrich: federal-register`), or one it fetched whose dates are
still ahead and which it looks at again (a correction or an extension moves
them). Kept in state.json only while it is pending or has a date ahead, so
the table stays small; the facts themselves are on the items.

`Reminder`: one reminder a subscriber gets N days before a deadline. The
ledger is keyed by subscription + document + kind + date + days before, so
a reminder is planned (queued) once, and a date moved by a correction is a
new key (the old one is dropped unsent). A reminder is queued, then
"sending" (recorded with its delivery key before the post), then "sent";
after a crash between the two, Slack's history says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

__all__ = [
    "REMINDER_STATUSES",
    "Reminder",
    "ReminderLedger",
    "ReminderReader",
    "ReminderStatus",
    "TrackedDocument",
    "TrackedDocumentReader",
    "TrackedDocuments",
]

ReminderStatus = Literal["queued", "sending", "sent", "dropped"]
REMINDER_STATUSES: tuple[ReminderStatus, ...] = ("queued", "sending", "sent", "dropped")


@dataclass(frozen=True, slots=True)
class TrackedDocument:
    """A document the enrichment fetches when `next_attempt` comes.

    `items` are the stored items that link to it, as (feed id, item id).
    `enriched` is set once its facts were stored: it is then only looked at
    again while a date of it is ahead. `attempts` counts failures in a row
    (the poll's backoff applies); `etag` / `last_modified` are the validators
    of the last response that carried it, sent again when the same batch is
    asked for again. `api_dates` are (effective_on, comments_close_on) as the
    API last gave them: a later fetch that gives others moved them (an
    extension), while a correction's move of the stored dates stays.
    """

    document_number: str
    items: tuple[tuple[str, str], ...]
    next_attempt: datetime
    attempts: int = 0
    enriched: bool = False
    last_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    api_dates: tuple[date | None, date | None] = (None, None)


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder to `owner`, `days_before` days before `kind` ("comments", "effective") on `on`."""

    subscription_id: str
    owner: str
    document_number: str
    kind: str
    on: date
    days_before: int
    item_seq: int
    due_at: datetime
    created_at: datetime
    status: ReminderStatus = "queued"
    # Set while "sending": the metadata key of the post, where, and since when.
    delivery_key: str | None = None
    channel: str | None = None
    since_ts: float | None = None
    sent_at: datetime | None = None

    @property
    def key(self) -> str:
        return reminder_key(
            self.subscription_id, self.document_number, self.kind, self.on, self.days_before
        )


def reminder_key(subscription_id: str, number: str, kind: str, on: date, days_before: int) -> str:
    """The ledger key: one reminder per subscription, document, kind, date and lead time."""
    return f"{subscription_id}|{number}|{kind}|{on.isoformat()}|{days_before}"


class TrackedDocumentReader(Protocol):
    def get(self, document_number: str) -> TrackedDocument | None: ...

    def all(self) -> list[TrackedDocument]:
        """Every readable record, by next attempt then number; damaged ones skipped."""
        ...

    def due(self, now: datetime, *, limit: int) -> list[TrackedDocument]:
        """At most `limit` records whose next attempt has come, the longest waiting first."""
        ...


class TrackedDocuments(TrackedDocumentReader, Protocol):
    def put(self, document: TrackedDocument) -> None: ...

    def delete(self, document_number: str) -> None: ...


class ReminderReader(Protocol):
    def get(self, key: str) -> Reminder | None: ...

    def all(self) -> list[Reminder]:
        """Every readable reminder, by due time then key; damaged ones skipped."""
        ...


class ReminderLedger(ReminderReader, Protocol):
    def put(self, reminder: Reminder) -> None:
        """Record a reminder (a new one, or a status change of one), by its key."""
        ...

    def prune(self, before: date) -> int:
        """Forget sent and dropped reminders of deadlines before `before`; return how many."""
        ...
