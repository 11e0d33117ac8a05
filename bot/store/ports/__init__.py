"""What the rest of the bot may ask of storage: typed records, one Protocol per kind of state.

A backend (today `bot.store.tinydb`; PostgreSQL next) implements `Store`. Reads
go through the store's read-only repositories and see committed state; writes
go through a unit of work:

    with store.transaction() as tx:
        stored = tx.items.add(items, now=now)
        tx.feed_states.put(state)
        tx.alerts.enqueue(alerts)
    # durable here; an exception inside the block rolls everything back

One transaction per job (a poll, a command, one delivery step). A backend runs
transactions one at a time or isolates them, so a read-then-write inside one
(a subscription cap, an alert merge) cannot interleave with another writer.
Keep transactions short: no network call inside one. Item `seq`s become
visible in commit order, so a reader that remembers "everything up to seq N"
(the match cursor, a digest cursor) never skips an item committed later with
a lower seq.

A store opened read-only by another process (the CLI while `briefbot run`
writes) sees a crash-consistent snapshot: every item a cursor or a record
points to is there, and no seq is missing below the highest it sees; it may
see part of a commit in progress, as a restart after a crash would.

The contract each backend must meet is written as tests in
`tests/store/contract/`; read them for the exact semantics (idempotent alert
enqueue, damaged records skipped with a warning, ...).

Layout: the records and errors are in `records`, one Protocol per kind of
state in `state`, and `ReadView`, `Transaction` and `Store` in `store`.
Import them from here.
"""

from bot.store.ports.coordination import Coordination, LeaseLost, SingleProcess
from bot.store.ports.fedreg import (
    TrackedDocument,
    TrackedDocumentReader,
    TrackedDocuments,
)
from bot.store.ports.installations import InstallationVault, SecretKeyError, Workspace
from bot.store.ports.records import (
    AddedFeed,
    AlertDelivery,
    DeliveryProblem,
    DigestPost,
    DigestState,
    FeedOverride,
    Heartbeat,
    OpsNotice,
    ScheduleOverride,
    StoreError,
    StoreLockedError,
    StoreReadOnlyError,
    StoreStats,
)
from bot.store.ports.reminders import (
    Reminder,
    ReminderLedger,
    ReminderReader,
    reminder_key,
)
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
from bot.store.ports.store import ReadView, Store, Transaction
from bot.store.ports.watches import Watch, Watches, WatchReader

__all__ = [
    "AddedFeed",
    "AlertDelivery",
    "AlertDeliveryLedger",
    "AlertDeliveryReader",
    "AlertQueue",
    "AlertQueueReader",
    "Coordination",
    "DeliveryProblem",
    "DeliveryProblemReader",
    "DeliveryProblems",
    "DigestLedger",
    "DigestLedgerReader",
    "DigestPost",
    "DigestState",
    "FeedOverride",
    "FeedStateReader",
    "FeedStates",
    "Heartbeat",
    "InstallationVault",
    "ItemReader",
    "Items",
    "LeaseLost",
    "OpsNotice",
    "OpsNoticeReader",
    "OpsNotices",
    "OverrideReader",
    "Overrides",
    "ReadView",
    "Reminder",
    "ReminderLedger",
    "ReminderReader",
    "ScheduleOverride",
    "SecretKeyError",
    "SingleProcess",
    "Store",
    "StoreError",
    "StoreLockedError",
    "StoreReadOnlyError",
    "StoreStats",
    "SubscriptionReader",
    "Subscriptions",
    "TrackedDocument",
    "TrackedDocumentReader",
    "TrackedDocuments",
    "Transaction",
    "Watch",
    "WatchReader",
    "Watches",
    "Workspace",
    "reminder_key",
]
