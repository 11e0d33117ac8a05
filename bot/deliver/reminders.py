"""Deadline reminders posted exactly once: recorded in flight, posted with a key, marked sent.

The due reminders (bot/brief/reminders.py) of one owner go out as one message.
Before the post their ledger records are committed as "sending" with the
message's metadata key, its channel and the time; after Slack accepted it they
become "sent" (another commit). A crash in between leaves "sending" records:
the next run (`finish_inflight`, before anything is planned) looks the key up
in the channel's history (`Poster.already_delivered`): found, they are sent;
not found, the records are removed and the reminders, if still due, go out
again. While Slack cannot be asked, they stay in flight and are not planned
again. A post Slack refuses for good (the bot is not in the channel) marks
them "failed", never retried, and records a delivery problem, as alerts do.

As with alerts, the one window left is at Slack's boundary: a crash after
Slack accepted a message and before the lookup could see it repeats that one
message. Each owner's post holds only that owner's lock (`reminders:<owner>`).
Reminders do not go through the alert queue: its key (owner and item) belongs
to the item's own alert.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.brief.reminders import DueReminder
from bot.deliver.locks import DestinationLocks
from bot.deliver.ports import DeliveryResult, Poster
from bot.models import SlackMessage, replace
from bot.store.ports import DeliveryProblem, Reminder, Store

__all__ = ["REMINDERS_PER_MESSAGE", "ReminderRenderer", "ReminderReport", "ReminderSender"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Renders one owner's reminders as a message.
ReminderRenderer = Callable[[str, Sequence[DueReminder]], list[SlackMessage]]

#: Reminders in one message; the rest stay due and go out with the next run.
REMINDERS_PER_MESSAGE = 10


@dataclass
class ReminderReport:
    """What one reminder run did."""

    sent: int = 0  # reminders Slack accepted in this run
    messages: int = 0
    found_after_crash: int = 0  # in-flight reminders found in Slack's history
    retried: int = 0  # in-flight reminders not found: due again
    failed_owners: dict[str, str] = field(default_factory=dict)  # owner -> error


class ReminderSender:
    """Posts due reminders through a Poster, with per-owner locks and crash recovery."""

    def __init__(self, store: Store, locks: DestinationLocks, *, clock: Clock) -> None:
        self._store = store
        self._locks = locks
        self._clock = clock

    def finish_inflight(self, poster: Poster, report: ReminderReport) -> None:
        """After a crash mid-post: what Slack has is sent, the rest is due again."""
        flying: dict[str, list[Reminder]] = {}
        for reminder in self._store.reminders.all():
            if reminder.status == "sending":
                flying.setdefault(reminder.delivery_key, []).append(reminder)
        for key, reminders in flying.items():
            first = reminders[0]
            with self._locks.hold(f"reminders:{first.owner}"):
                current = [self._store.reminders.get(r.key) for r in reminders]
                if any(r is None or r.status != "sending" for r in current):
                    continue  # a live run settled it meanwhile
                try:
                    landed = poster.already_delivered(first.channel, key, first.since_ts)
                except Exception as exc:  # Slack unreachable: decide on a later run
                    log.warning("cannot check reminder delivery %s yet: %s", key, exc)
                    continue
                with self._store.transaction() as tx:
                    for reminder in reminders:
                        if landed:
                            tx.reminders.put(self._sent(reminder))
                        else:
                            tx.reminders.delete(reminder.key)
                if landed:
                    report.found_after_crash += len(reminders)
                else:
                    report.retried += len(reminders)

    def send(
        self,
        poster: Poster,
        due: Sequence[DueReminder],
        render: ReminderRenderer,
        report: ReminderReport,
    ) -> None:
        """Post each owner's due reminders as one message (see the module docstring)."""
        by_owner: dict[str, list[DueReminder]] = {}
        for reminder in due:
            by_owner.setdefault(reminder.owner, []).append(reminder)
        for owner, theirs in by_owner.items():
            with self._locks.hold(f"reminders:{owner}"):
                self._send_owner(owner, theirs, poster, render, report)

    def prune(self, today: date) -> int:
        """Forget the records of deadlines more than a week past (no commit when there are none)."""
        before = date.fromordinal(today.toordinal() - 7)
        if not any(r.on < before and r.status != "sending" for r in self._store.reminders.all()):
            return 0
        with self._store.transaction() as tx:
            return tx.reminders.prune(before)

    def _send_owner(
        self,
        owner: str,
        due: Sequence[DueReminder],
        poster: Poster,
        render: ReminderRenderer,
        report: ReminderReport,
    ) -> None:
        # Read again under the owner's lock: another run may have sent them.
        known = self._store.reminders.keys()
        due = [r for r in due if r.key not in known][:REMINDERS_PER_MESSAGE]
        if not due:
            return
        now = self._clock()
        messages = render(owner, due)
        try:
            channel = owner if owner[:1] in ("C", "G") else poster.open_dm(owner)
        except Exception as exc:
            self._problem(owner, str(exc), report)
            return
        keys = [r.key for r in due]
        key = "reminders:" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:20]
        records = [self._record(r, key, channel, now) for r in due]
        with self._store.transaction() as tx:
            for record in records:
                tx.reminders.put(record)
        result = poster.post(channel, messages, metadata={"key": key})
        self._settle(owner, records, result, report)

    def _settle(
        self,
        owner: str,
        records: Sequence[Reminder],
        result: DeliveryResult,
        report: ReminderReport,
    ) -> None:
        with self._store.transaction() as tx:
            for record in records:
                if result.ok:
                    tx.reminders.put(self._sent(record))
                elif result.retryable:
                    tx.reminders.delete(record.key)  # due again next run
                else:
                    tx.reminders.put(replace(record, status="failed"))
            if result.ok:
                tx.delivery_problems.clear(owner)
        if result.ok:
            report.sent += len(records)
            report.messages += result.posted
            return
        self._problem(owner, result.error or "delivery failed", report)

    def _record(self, due: DueReminder, key: str, channel: str, now: datetime) -> Reminder:
        d = due.deadline
        return Reminder(
            owner=due.owner,
            document_number=d.document_number,
            kind=d.kind,
            on=d.on,
            days_before=due.days_before,
            subscription_ids=due.subscription_ids,
            status="sending",
            delivery_key=key,
            channel=channel,
            since_ts=now.timestamp() - 5,
            created_at=now,
        )

    def _sent(self, reminder: Reminder) -> Reminder:
        return replace(reminder, status="sent", sent_at=self._clock())

    def _problem(self, owner: str, error: str, report: ReminderReport) -> None:
        log.warning("reminder to %s not delivered: %s", owner, error)
        report.failed_owners[owner] = error
        with self._store.transaction() as tx:
            tx.delivery_problems.record(DeliveryProblem(owner, error, self._clock()))
