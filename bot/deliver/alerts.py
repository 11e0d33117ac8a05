"""Alerts delivered exactly once: one message per owner, recorded in flight around the post.

For each owner with alerts due: the delivery is recorded (committed) with a
key, posted with that key as message metadata, then the alerts are marked
delivered and the record removed (committed). After a crash in between, the
key is looked up in the channel's history before anything is posted again
(`_finish_inflight`): found, the alerts count as delivered; not found, they
stay queued and go out with the next dispatch.

The one window left is at Slack's boundary: a crash after Slack accepted a
message and before the lookup could see it repeats that one message.
Each owner's delivery holds that owner's lock only (`DestinationLocks`), so a
slow DM never holds up a command, a poll, or another dispatch delivering to a
different owner at the same time. Within one dispatch, owners are served in
turn: a DM that Slack keeps waiting delays the owners after it in that pass.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.deliver.locks import DestinationLocks
from bot.deliver.ports import DeliveryResult, Poster, poster_for
from bot.models import Alert, Item, SlackMessage
from bot.store.ports import AlertDelivery, DeliveryProblem, Store

__all__ = ["ALERT_ITEMS_PER_MESSAGE", "AlertDispatcher", "AlertRenderer", "DispatchReport"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Renders one owner's alert message: (owner, [(item, subscription ids)], count of the rest).
AlertRenderer = Callable[[str, list[tuple[Item, tuple[str, ...]]], int], list[SlackMessage]]

#: Items listed in one alert message; the rest are counted ("and N more").
ALERT_ITEMS_PER_MESSAGE = 10


@dataclass
class DispatchReport:
    """What one alert dispatch did."""

    delivered: int = 0  # alerts delivered
    messages: int = 0  # Slack messages posted
    failed_owners: dict[str, str] = field(default_factory=dict)  # owner -> error


class AlertDispatcher:
    """Delivers due alerts through a Poster, with per-owner locks and crash recovery."""

    def __init__(self, store: Store, locks: DestinationLocks, *, clock: Clock) -> None:
        self._store = store
        self._locks = locks
        self._clock = clock

    def dispatch(self, poster: Poster, render: AlertRenderer) -> DispatchReport:
        """Deliver every due alert: one message per owner, listing up to N items."""
        report = DispatchReport()
        self._finish_inflight(poster, report)
        for owner in self._store.alerts.due(self._clock()):
            # Another replica delivering to this owner: it sends them (or, if it
            # dies, a later dispatch finishes its delivery once its lease ran out).
            with self._locks.hold(f"alerts:{owner}", wait=False) as held:
                if held:
                    self._deliver_owner(owner, poster, render, report)
        with self._store.transaction() as tx:
            tx.alerts.prune_sent(self._clock())
        return report

    def _deliver_owner(
        self, owner: str, poster: Poster, render: AlertRenderer, report: DispatchReport
    ) -> None:
        # A delivery another replica left in flight (it died; its lease ran out
        # since this dispatch began): settled before anything is posted again.
        for found in self._store.alert_deliveries.all():
            if found.owner == owner and not self._settle_inflight(found, poster, report):
                return
        now = self._clock()
        # Read again under the owner's lock: another dispatch may have sent them.
        alerts = self._store.alerts.due(now, owner=owner).get(owner, [])
        if not alerts:
            return
        keys = [key for alert in alerts for key in alert.sent_keys]
        listed = self._listed(alerts)
        if not listed:  # items pruned meanwhile: nothing left to tell
            with self._store.transaction() as tx:
                tx.alerts.mark_delivered(keys, now=now)
            return
        messages = render(owner, listed, len(alerts) - len(listed))
        # Many workspaces: the owner's workspace's bot token posts (bot/app/workspaces.py).
        team_id, enterprise_id = alerts[0].team_id, alerts[0].enterprise_id
        poster = poster_for(poster, team_id, enterprise_id)
        try:
            channel = owner if owner[:1] in ("C", "G") else poster.open_dm(owner)
        except Exception as exc:
            self._record_problem(owner, str(exc), report)
            return
        delivery = AlertDelivery(
            key="alerts:" + hashlib.sha256("|".join(keys).encode()).hexdigest()[:20],
            owner=owner,
            channel=channel,
            since_ts=now.timestamp() - 5,
            alert_keys=tuple(keys),
            team_id=team_id,
            enterprise_id=enterprise_id,
        )
        with self._store.transaction() as tx:
            tx.alert_deliveries.begin(delivery)
        result = poster.post(channel, messages, metadata={"key": delivery.key})
        self._settle(delivery, result, now, report)

    def _listed(self, alerts: Sequence[Alert]) -> list[tuple[Item, tuple[str, ...]]]:
        items = {i.seq: i for i in self._store.items.by_seq(a.item_seq for a in alerts)}
        return [
            (items[a.item_seq], a.subscription_ids)
            for a in alerts[:ALERT_ITEMS_PER_MESSAGE]
            if a.item_seq in items
        ]

    def _settle(
        self, delivery: AlertDelivery, result: DeliveryResult, now: datetime, report: DispatchReport
    ) -> None:
        owner, keys = delivery.owner, delivery.alert_keys
        with self._store.transaction() as tx:
            tx.alert_deliveries.finish(delivery.key)
            if result.ok:
                tx.alerts.mark_delivered(keys, now=now)
                tx.delivery_problems.clear(owner)
                report.delivered += _alerts_in(keys)
                report.messages += result.posted
                return
            if not result.retryable:
                # A channel we cannot post to: say so once, drop these alerts
                # rather than retrying forever.
                tx.alerts.mark_delivered(keys, now=now)
            error = result.error or "delivery failed"
            log.warning("delivery to %s failed: %s", owner, error)
            report.failed_owners[owner] = error
            tx.delivery_problems.record(DeliveryProblem(owner, error, self._clock()))

    def _finish_inflight(self, poster: Poster, report: DispatchReport) -> None:
        """After a crash mid-delivery: finish what Slack already has, requeue the rest."""
        for found in self._store.alert_deliveries.all():
            with self._locks.hold(f"alerts:{found.owner}", wait=False) as held:
                # A live dispatch of this owner has finished its own meanwhile.
                if held:
                    self._settle_inflight(found, poster, report)

    def _settle_inflight(
        self, found: AlertDelivery, poster: Poster, report: DispatchReport
    ) -> bool:
        """Settle one delivery left in flight, under its owner's hold; False if Slack cannot say."""
        delivery = self._store.alert_deliveries.get(found.key)
        if delivery is None:
            return True
        try:
            done = poster_for(poster, delivery.team_id, delivery.enterprise_id).already_delivered(
                delivery.channel, delivery.key, delivery.since_ts
            )
        except Exception as exc:  # Slack unreachable: decide on a later dispatch
            log.warning("cannot check delivery %s yet: %s", delivery.key, exc)
            return False
        with self._store.transaction() as tx:
            if done:
                tx.alerts.mark_delivered(delivery.alert_keys, now=self._clock())
                report.delivered += _alerts_in(delivery.alert_keys)
            tx.alert_deliveries.finish(delivery.key)
        return True

    def _record_problem(self, target: str, error: str, report: DispatchReport) -> None:
        log.warning("delivery to %s failed: %s", target, error)
        report.failed_owners[target] = error
        with self._store.transaction() as tx:
            tx.delivery_problems.record(DeliveryProblem(target, error, self._clock()))


def _alerts_in(keys: Sequence[str]) -> int:
    """How many alerts `keys` (their `sent_keys`) are: watch keys ("U1:45/w3") not counted."""
    return sum(1 for key in keys if "/" not in key)
