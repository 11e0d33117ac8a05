"""One reader Protocol and one writer Protocol per kind of state."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.models import Alert, FeedState, Item, Subscription
from bot.store.ports.records import (
    AlertDelivery,
    DeliveryProblem,
    DigestState,
    FeedOverride,
    OpsNotice,
    ScheduleOverride,
)

__all__ = [
    "AlertDeliveryLedger",
    "AlertDeliveryReader",
    "AlertQueue",
    "AlertQueueReader",
    "DeliveryProblemReader",
    "DeliveryProblems",
    "DigestLedger",
    "DigestLedgerReader",
    "FeedStateReader",
    "FeedStates",
    "ItemReader",
    "Items",
    "OpsNoticeReader",
    "OpsNotices",
    "OverrideReader",
    "Overrides",
    "SubscriptionReader",
    "Subscriptions",
]


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

    def which_known(self, items: Sequence[Item], *, former: bool = True) -> list[bool]:
        """`is_known` for each of `items`, in order: one question for many (a feed's entries)."""
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

    def newest_with_extra(self, key: str, limit: int) -> Iterator[Item]:
        """Of the `limit` newest items (`newest_first`), those whose extras hold `key`.

        The same items as filtering `newest_first`, without decoding the others
        (a poll looks for Entity List rules among the newest 2,000 items)."""
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
