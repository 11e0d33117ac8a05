"""The deadline reminder job of a Runtime: plan what is due, post it exactly once.

`send_reminders` is the scheduler's [reminders] job (bot/app/scheduler/jobs.py):
every 15 minutes, and right after an enrichment run stored facts (a moved date
is re-planned at once). One run: finish the posts a crash left in flight
(bot/deliver/reminders.py), compute the due reminders from the watched
documents' items and the subscriptions (bot/brief/reminders.py; no
transaction is held meanwhile), post each owner's as one message, and forget
the records of deadlines long past.

`UserZones` remembers users' Slack time zones for a day: a user's
subscription left at UTC is reminded on the user's own clock, and the
lookup (users.info) is made once a day per user, only for users with a
deadline near.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.app.fedreg import deadline_items
from bot.brief.reminders import DueReminder, describe_remind, due_reminders
from bot.deliver.ports import Poster
from bot.deliver.reminders import ReminderReport, ReminderSender
from bot.models import SlackMessage

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

__all__ = ["UserZones", "send_reminders"]

ZONE_TTL = timedelta(days=1)


class UserZones:
    """Users' Slack time zones through a Poster, each asked at most once a `ZONE_TTL`."""

    def __init__(self, poster: Poster) -> None:
        self._poster = poster
        self._lock = threading.Lock()
        self._known: dict[str, tuple[datetime, str | None]] = {}

    def zone(self, user_id: str, now: datetime) -> str | None:
        with self._lock:
            known = self._known.get(user_id)
            if known is not None and now - known[0] < ZONE_TTL:
                return known[1]
        zone = self._poster.user_timezone(user_id)
        with self._lock:
            self._known[user_id] = (now, zone)
        return zone


def send_reminders(
    runtime: Runtime, poster: Poster, *, zones: UserZones | None = None
) -> ReminderReport:
    """One reminder run (see the module docstring)."""
    sender = ReminderSender(runtime.store, runtime.locks, clock=runtime.clock)
    report = ReminderReport()
    sender.finish_inflight(poster, report)
    now = runtime.clock()
    zones = zones or UserZones(poster)
    due = due_reminders(
        deadline_items(runtime.store),
        runtime.store.subscriptions.list(),
        runtime.topics(),
        now=now,
        sent=runtime.store.reminders.keys(),
        feed_tags=runtime.feed_tags(),
        user_zone=lambda user: zones.zone(user, now),
    )
    if due:
        sender.send(poster, due, lambda _owner, theirs: _render(runtime, theirs), report)
    sender.prune(now.date())
    return report


def _render(runtime: Runtime, reminders: Sequence[DueReminder]) -> list[SlackMessage]:
    """Each reminder names the subscriptions it is sent for ("topic bis (s7k2q)")."""
    ids = list(dict.fromkeys(i for r in reminders for i in r.subscription_ids))
    subs = {sub_id: runtime.store.subscriptions.get(sub_id) for sub_id in ids}
    labels = {i: f"{s.label} ({i})" if s is not None else i for i, s in subs.items()}
    listed = [
        (
            r.deadline.kind,
            r.deadline.on,
            r.days_left,
            r.deadline.item,
            tuple(labels[i] for i in r.subscription_ids),
        )
        for r in reminders
    ]
    sent_by = [(i, describe_remind(s.remind) if s else "reminders") for i, s in subs.items()]
    return runtime.renderer.render_reminders(listed, sent_by=sent_by)
