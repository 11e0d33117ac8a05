"""Every record repository over one `RecordSource`: what a backend's store and transaction hold.

A new kind of record state adds one line here and both backends serve it.
"""

from __future__ import annotations

from bot.store.records.alertqueue import AlertQueueRepo
from bot.store.records.fedreg import TrackedDocumentRepo
from bot.store.records.reminders import ReminderRepo
from bot.store.records.repos import (
    AlertDeliveryRepo,
    DeliveryProblemRepo,
    DigestRepo,
    FeedStateRepo,
    OpsNoticeRepo,
    OverrideRepo,
    RecordSource,
    SubscriptionRepo,
)
from bot.store.records.watches import WatchRepo

__all__ = ["RecordRepositories"]


class RecordRepositories:
    """The record repositories of a store or a transaction (items are the backend's own)."""

    def __init__(self, source: RecordSource) -> None:
        self.feed_states = FeedStateRepo(source)
        self.subscriptions = SubscriptionRepo(source)
        self.alerts = AlertQueueRepo(source)
        self.alert_deliveries = AlertDeliveryRepo(source)
        self.digests = DigestRepo(source)
        self.delivery_problems = DeliveryProblemRepo(source)
        self.overrides = OverrideRepo(source)
        self.ops_notices = OpsNoticeRepo(source)
        self.fr_documents = TrackedDocumentRepo(source)
        self.watches = WatchRepo(source)
        self.reminders = ReminderRepo(source)
