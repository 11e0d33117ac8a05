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
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.models import Alert, FeedState, Item, SlackMessage, Subscription

__all__ = [
    "AddedFeed",
    "AlertDelivery",
    "AlertDeliveryLedger",
    "AlertDeliveryReader",
    "AlertQueue",
    "AlertQueueReader",
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
    "ItemReader",
    "Items",
    "OpsNotice",
    "OpsNoticeReader",
    "OpsNotices",
    "OverrideReader",
    "Overrides",
    "ReadView",
    "ScheduleOverride",
    "Store",
    "StoreError",
    "StoreLockedError",
    "StoreReadOnlyError",
    "StoreStats",
    "SubscriptionReader",
    "Subscriptions",
    "Transaction",
]


class StoreError(Exception):
    """The store cannot be opened, read or written, or a value cannot be stored."""


class StoreLockedError(StoreError):
    """Another process holds the data; the message names it."""


class StoreReadOnlyError(StoreError):
    """A write was asked of a store opened to read (while another process holds it)."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """An alert message on its way to Slack: recorded before the post, removed after.

    Found at start-up, it means a crash came in between: Slack is asked whether
    the message with `key` (its metadata) arrived after `since_ts`.
    """

    key: str
    owner: str
    channel: str
    since_ts: float
    alert_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DigestPost:
    """A digest being posted (`posted` 0) or cut short after `posted` of its messages.

    `messages` are the exact messages planned, so that a digest cut short is
    finished with them rather than rebuilt (None in records of older releases).
    `seq` is where the channel's cursor moves once all of it is in; `ts` is the
    first message's (the thread the rest goes into).
    """

    key: str
    since_ts: float
    seq: int
    scheduled_for: datetime
    items: int
    parts: int = 0
    messages: tuple[SlackMessage, ...] | None = None
    posted: int = 0
    ts: str | None = None


@dataclass(frozen=True, slots=True)
class DigestState:
    """A channel's digest ledger: the items covered so far and the post under way."""

    channel: str
    seq: int
    last_sent: datetime
    inflight: DigestPost | None = None
    partial: DigestPost | None = None


@dataclass(frozen=True, slots=True)
class DeliveryProblem:
    """The last failed delivery to a channel or person, shown by `/brief status`."""

    target: str
    error: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AddedFeed:
    """A feed added from Slack, as `/brief feed add` recorded it."""

    url: str
    tags: tuple[str, ...] = ()
    interval: int | None = None


@dataclass(frozen=True, slots=True)
class FeedOverride:
    """A change made from Slack to one feed: added, paused/resumed, or removed (hidden)."""

    feed_id: str
    added: AddedFeed | None = None
    enabled: bool | None = None
    removed: bool = False
    by: str = ""
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScheduleOverride:
    """A channel's digest time set from Slack (`/brief schedule`)."""

    channel: str
    at: str
    timezone: str
    days: str
    by: str = ""
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpsNotice:
    """A feed-failure notice given in the ops channel (so it is given once per outage)."""

    feed_id: str
    failing_since: datetime
    notified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts and sizes for status output and benchmarks."""

    items: int
    tombstones: int
    last_seq: int
    bytes: int
    files: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What the running service last said about itself (`briefbot health`, `/healthz`).

    `slack_mode` is "socket" or "http"; `slack_ok` whether Slack was reachable
    with the bot's token at `slack_checked_at` (Socket Mode: connected);
    `slack_detail` says what failed. Not part of any transaction: a lost
    heartbeat only makes the service look stale for one beat.
    """

    at: datetime
    pid: int
    slack_mode: str
    slack_ok: bool
    slack_checked_at: datetime | None = None
    slack_detail: str = ""


# --------------------------------------------------------------------------- repositories


class ItemReader(Protocol):
    """Stored items. `seq` rises with every stored item; cursors count in it."""

    @property
    def last_seq(self) -> int:
        """The highest seq given so far (0 for an empty store)."""
        ...

    def count(self) -> int: ...

    def is_known(self, item: Item, *, former: bool = True) -> bool:
        """True when one of the item's keys is stored or remembered after pruning.

        Its dedup keys, and (unless `former` is False) its `former_keys`: the
        keys an earlier release gave the same entry.
        """
        ...

    def get(self, feed_id: str, item_id: str) -> Item | None: ...

    def by_seq(self, seqs: Iterable[int]) -> list[Item]:
        """The stored items with these seqs, in the order given; unknown seqs skipped."""
        ...

    def after(self, seq: int = 0, *, feed_ids: Collection[str] | None = None) -> Iterator[Item]:
        """Items with a seq above `seq` (of these feeds, if given), in seq order."""
        ...

    def newest_first(self, limit: int) -> Iterator[Item]:
        """Stored items from the highest seq down, at most `limit` of them."""
        ...

    def first_seq_since(self, when: datetime) -> int | None:
        """The lowest seq of the run of newest items first seen at or after `when`."""
        ...


class Items(ItemReader, Protocol):
    def add(self, items: Iterable[Item], *, now: datetime, backlog: bool = False) -> list[Item]:
        """Store the items not known yet (by any dedup key, also within `items`).

        Each stored copy gets the next seq, `first_seen=now` and `backlog`; the
        copies come back in input order. An item known only by a former key is
        not stored: the stored item it matched gets the item's dedup keys, so it
        is known by them from then on (unless only its tombstone is left).
        Raises StoreError, storing nothing of the call, when an item holds a
        value the store cannot keep.
        """
        ...

    def update_extras(self, feed_id: str, item_id: str, extras: Mapping[str, Any]) -> None:
        """Merge `extras` into a stored item's (top-level keys replaced)."""
        ...


class FeedStateReader(Protocol):
    def get(self, feed_id: str) -> FeedState | None: ...

    def all(self) -> dict[str, FeedState]: ...


class FeedStates(FeedStateReader, Protocol):
    def put(self, state: FeedState) -> None: ...


class SubscriptionReader(Protocol):
    def get(self, subscription_id: str) -> Subscription | None: ...

    def list(self, owner: str | None = None) -> list[Subscription]:
        """Every readable subscription (of `owner`), oldest first; damaged ones skipped."""
        ...

    def ids(self) -> set[str]:
        """Every id in use, damaged records included (new ids must not collide)."""
        ...


class Subscriptions(SubscriptionReader, Protocol):
    def put(self, subscription: Subscription) -> None: ...

    def delete(self, subscription_id: str) -> bool: ...


class AlertQueueReader(Protocol):
    """The durable queue of alerts, the keys already sent, and the match cursor."""

    def queued(self) -> list[Alert]:
        """Every queued alert, due or not, by item seq then owner."""
        ...

    def due(self, now: datetime, *, owner: str | None = None) -> dict[str, list[Alert]]:
        """Alerts due at `now` by owner (sorted), each list by item seq."""
        ...

    def pending_count(self) -> int: ...

    def sent_keys(self) -> set[str]: ...

    def match_cursor(self) -> int:
        """The seq of the last item matched against subscriptions (0 before any)."""
        ...


class AlertQueue(AlertQueueReader, Protocol):
    def enqueue(self, alerts: Iterable[Alert]) -> int:
        """Queue alerts; return how many keys are new to the queue.

        Idempotent: a key already queued is merged (subscription ids united,
        the earlier times kept); a key sent recently is ignored.
        """
        ...

    def mark_delivered(self, keys: Iterable[str], *, now: datetime) -> int:
        """Take delivered alerts off the queue and remember them as sent; return how many."""
        ...

    def prune_sent(self, now: datetime) -> int:
        """Forget sent keys past their retention; return how many."""
        ...

    def discard_subscriptions(self, subscription_ids: Iterable[str]) -> int:
        """Remove these subscriptions from queued alerts; drop alerts left naming none."""
        ...

    def set_match_cursor(self, seq: int) -> None: ...


class AlertDeliveryReader(Protocol):
    def all(self) -> list[AlertDelivery]: ...

    def get(self, key: str) -> AlertDelivery | None: ...


class AlertDeliveryLedger(AlertDeliveryReader, Protocol):
    def begin(self, delivery: AlertDelivery) -> None: ...

    def finish(self, key: str) -> None: ...


class DigestLedgerReader(Protocol):
    def get(self, channel: str) -> DigestState | None: ...


class DigestLedger(DigestLedgerReader, Protocol):
    def put(self, state: DigestState) -> None: ...


class DeliveryProblemReader(Protocol):
    def all(self) -> dict[str, DeliveryProblem]: ...


class DeliveryProblems(DeliveryProblemReader, Protocol):
    def record(self, problem: DeliveryProblem) -> None: ...

    def clear(self, target: str) -> None: ...


class OverrideReader(Protocol):
    def feeds(self) -> dict[str, FeedOverride]: ...

    def schedules(self) -> dict[str, ScheduleOverride]: ...


class Overrides(OverrideReader, Protocol):
    def put_feed(self, override: FeedOverride) -> None: ...

    def delete_feed(self, feed_id: str) -> None: ...

    def put_schedule(self, override: ScheduleOverride) -> None: ...

    def delete_schedule(self, channel: str) -> bool: ...


class OpsNoticeReader(Protocol):
    def all(self) -> dict[str, OpsNotice]: ...


class OpsNotices(OpsNoticeReader, Protocol):
    def put(self, notice: OpsNotice) -> None: ...

    def delete(self, feed_id: str) -> None: ...


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

    def close(self) -> None: ...
