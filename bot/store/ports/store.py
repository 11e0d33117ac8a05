"""The store itself: every kind of state to read (`ReadView`), to write (`Transaction`), and the
backend's lifecycle (`Store`). A new kind of state adds one property to each of the first two."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from bot.store.ports.fedreg import TrackedDocumentReader, TrackedDocuments
from bot.store.ports.records import Heartbeat, StoreStats
from bot.store.ports.reminders import ReminderLedger, ReminderReader
from bot.store.ports.state import (
    AlertDeliveryLedger,
    AlertDeliveryReader,
    AlertQueue,
    AlertQueueReader,
    DeliveryProblemReader,
    DeliveryProblems,
    DigestLedger,
    DigestLedgerReader,
    FeedStateReader,
    FeedStates,
    ItemReader,
    Items,
    OpsNoticeReader,
    OpsNotices,
    OverrideReader,
    Overrides,
    SubscriptionReader,
    Subscriptions,
)
from bot.store.ports.watches import Watches, WatchReader

__all__ = ["ReadView", "Store", "Transaction"]


# --------------------------------------------------------------------------- the store


class ReadView(Protocol):
    """Committed state, every kind of it, read-only."""

    @property
    def items(self) -> ItemReader: ...
    @property
    def feed_states(self) -> FeedStateReader: ...
    @property
    def subscriptions(self) -> SubscriptionReader: ...
    @property
    def alerts(self) -> AlertQueueReader: ...
    @property
    def alert_deliveries(self) -> AlertDeliveryReader: ...
    @property
    def digests(self) -> DigestLedgerReader: ...
    @property
    def delivery_problems(self) -> DeliveryProblemReader: ...
    @property
    def overrides(self) -> OverrideReader: ...
    @property
    def ops_notices(self) -> OpsNoticeReader: ...
    @property
    def fr_documents(self) -> TrackedDocumentReader: ...
    @property
    def watches(self) -> WatchReader: ...
    @property
    def reminders(self) -> ReminderReader: ...


class Transaction(Protocol):
    """One unit of work: reads see its own writes; all of it lands at once, or none."""

    @property
    def items(self) -> Items: ...
    @property
    def feed_states(self) -> FeedStates: ...
    @property
    def subscriptions(self) -> Subscriptions: ...
    @property
    def alerts(self) -> AlertQueue: ...
    @property
    def alert_deliveries(self) -> AlertDeliveryLedger: ...
    @property
    def digests(self) -> DigestLedger: ...
    @property
    def delivery_problems(self) -> DeliveryProblems: ...
    @property
    def overrides(self) -> Overrides: ...
    @property
    def ops_notices(self) -> OpsNotices: ...
    @property
    def fr_documents(self) -> TrackedDocuments: ...
    @property
    def watches(self) -> Watches: ...
    @property
    def reminders(self) -> ReminderLedger: ...


class Store(ReadView, Protocol):
    """A backend: committed state to read, transactions to write, retention, lifecycle."""

    @property
    def read_only(self) -> bool: ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A unit of work, committed durably when the block ends without an exception.

        Raises StoreReadOnlyError for a store opened to read.
        """
        ...

    def prune(self, now: datetime) -> int:
        """Remove items past retention (their dedup keys stay a while); return how many."""
        ...

    def stats(self) -> StoreStats: ...

    def beat(self, heartbeat: Heartbeat) -> None:
        """Record the service's heartbeat (replacing the last). StoreReadOnlyError to a reader."""
        ...

    def last_heartbeat(self) -> Heartbeat | None:
        """The heartbeat as last written, read now (also by a read-only store); None if none."""
        ...

    def heartbeats(self) -> list[Heartbeat]:
        """Each replica's last heartbeat (one at most on a data directory), by replica name."""
        ...

    def close(self) -> None: ...
