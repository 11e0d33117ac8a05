"""The reminder ledger: which deadline reminders went out (or are going out) to whom.

One `Reminder` per owner (a Slack user or channel), document, deadline kind,
date and lead time ("7 days before"): `reminder_key`. The reminders that are
due are computed afresh on every run from the stored facts and the
subscriptions (bot/brief/reminders.py); the ledger only remembers what was
posted, so that each is posted once:

- "sending": recorded (committed) with the delivery key, the channel and the
  time before the post; the post carries the key as message metadata. After a
  crash here, Slack's history says whether the message landed.
- "sent": Slack accepted it.
- "failed": Slack refused it for good (the bot is not in the channel); never
  retried, as an alert in the same case is not.

A date a correction moves is a new key: the old date's reminders are simply
never due again (nothing planned has to be withdrawn), and the new date's are.
Records of deadlines long past are pruned.
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
    "reminder_key",
]

ReminderStatus = Literal["sending", "sent", "failed"]
REMINDER_STATUSES: tuple[ReminderStatus, ...] = ("sending", "sent", "failed")


def reminder_key(owner: str, number: str, kind: str, on: date, days_before: int) -> str:
    """The ledger key: one reminder per owner, document, kind, date and lead time."""
    return f"{owner}|{number}|{kind}|{on.isoformat()}|{days_before}"


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder to `owner`, `days_before` days before `kind` ("comments", "effective") on `on`.

    `subscription_ids` are the owner's subscriptions it was sent for;
    `delivery_key` is the metadata key of the message that carries it (one
    message may carry several reminders of one owner), posted in `channel`
    after `since_ts` (a Unix time: where a history lookup starts).
    """

    owner: str
    document_number: str
    kind: str
    on: date
    days_before: int
    subscription_ids: tuple[str, ...]
    status: ReminderStatus
    delivery_key: str
    channel: str
    since_ts: float
    created_at: datetime
    sent_at: datetime | None = None

    @property
    def key(self) -> str:
        return reminder_key(self.owner, self.document_number, self.kind, self.on, self.days_before)


class ReminderReader(Protocol):
    def get(self, key: str) -> Reminder | None: ...

    def all(self) -> list[Reminder]:
        """Every readable reminder, by key; damaged ones skipped (logged)."""
        ...

    def keys(self) -> set[str]:
        """The keys of every record, readable or not: a damaged one is never posted again."""
        ...


class ReminderLedger(ReminderReader, Protocol):
    def put(self, reminder: Reminder) -> None:
        """Record a reminder (a new one, or a status change of one), by its key."""
        ...

    def delete(self, key: str) -> None:
        """Forget one reminder (an in-flight post that never landed); no error when absent."""
        ...

    def prune(self, before: date) -> int:
        """Forget the sent and failed reminders of deadlines before `before`; return how many."""
        ...
