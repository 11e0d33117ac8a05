"""The repositories over state.json: feed states and every record table, typed.

Each repository reads and writes through a `RecordSource`: `CommittedRecords`
(the store's current state.json, read-only) or `StagedRecords` (a
transaction's changes over the state.json it started from). Writing through a
committed source raises StoreReadOnlyError: writes belong in a transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from bot.models import FeedState, Subscription
from bot.store.ports import (
    AlertDelivery,
    DeliveryProblem,
    DigestState,
    FeedOverride,
    OpsNotice,
    ScheduleOverride,
    StoreError,
    StoreReadOnlyError,
)
from bot.store.tinydb import records
from bot.store.tinydb.codec import clean_text, doc_to_feed_state, feed_state_to_doc, to_json
from bot.store.tinydb.statefile import DELETED, FEEDS_TABLE, RECORD_PREFIX, StateFile

__all__ = [
    "AlertDeliveryRepo",
    "CommittedRecords",
    "DeliveryProblemRepo",
    "DigestRepo",
    "FeedStateRepo",
    "OpsNoticeRepo",
    "OverrideRepo",
    "RecordSource",
    "StagedRecords",
    "SubscriptionRepo",
    "record_table",
]

log = logging.getLogger(__name__)

_R = TypeVar("_R")


def record_table(name: str) -> str:
    return RECORD_PREFIX + name


class RecordSource(Protocol):
    """Values of state.json by table and key (shared: copy before changing one)."""

    def value(self, table: str, key: str) -> Any: ...

    def values(self, table: str) -> dict[str, Any]: ...

    def put(self, table: str, key: str, value: Any) -> None: ...

    def delete(self, table: str, key: str) -> None: ...


class CommittedRecords:
    """The store's current state.json (each call reads the latest committed version).

    Keys are cleaned as they were when stored (`clean_text`), so a key with a
    lone surrogate finds its record again.
    """

    def __init__(self, current: Callable[[], StateFile]) -> None:
        self._current = current

    def value(self, table: str, key: str) -> Any:
        return self._current().get(table, clean_text(key))

    def values(self, table: str) -> dict[str, Any]:
        return self._current().values(table)

    def put(self, table: str, key: str, value: Any) -> None:
        raise StoreReadOnlyError("writes go through store.transaction()")

    def delete(self, table: str, key: str) -> None:
        raise StoreReadOnlyError("writes go through store.transaction()")


class StagedRecords:
    """A transaction's changes (`changes`: table -> key -> value or DELETED) over `base`."""

    def __init__(self, base: StateFile, changes: dict[str, dict[str, Any]]) -> None:
        self._base = base
        self.changes = changes

    def value(self, table: str, key: str) -> Any:
        key = clean_text(key)
        staged = self.changes.get(table, {})
        if key in staged:
            value = staged[key]
            return None if value is DELETED else value
        return self._base.get(table, key)

    def values(self, table: str) -> dict[str, Any]:
        found = self._base.values(table)
        for key, value in self.changes.get(table, {}).items():
            if value is DELETED:
                found.pop(key, None)
            else:
                found[key] = value
        return found

    def put(self, table: str, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key:
            raise StoreError(f"a key in {table} must be a non-empty text, not {key!r}")
        cleaned = to_json(value, f"{table} record {key!r}")
        self.changes.setdefault(table, {})[clean_text(key)] = cleaned

    def delete(self, table: str, key: str) -> None:
        self.changes.setdefault(table, {})[clean_text(key)] = DELETED


def read_all(
    source: RecordSource, table: str, read: Callable[[str, Mapping[str, Any]], _R]
) -> dict[str, _R]:
    """Every readable record of `table` by key; damaged ones logged and skipped."""
    found: dict[str, _R] = {}
    for key, value in source.values(table).items():
        parsed = read_one(table, key, value, read)
        if parsed is not None:
            found[key] = parsed
    return found


def read_one(
    table: str, key: str, value: Any, read: Callable[[str, Mapping[str, Any]], _R]
) -> _R | None:
    if value is None:
        return None
    try:
        if not isinstance(value, Mapping):
            raise ValueError(f"{value!r} is not a record")
        return read(key, value)
    except (ValueError, TypeError) as err:
        log.warning(
            "skipping damaged %s record %r: %s", table.removeprefix(RECORD_PREFIX), key, err
        )
        return None


class FeedStateRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, feed_id: str) -> FeedState | None:
        doc = self._source.value(FEEDS_TABLE, feed_id)
        return None if doc is None else doc_to_feed_state(doc)

    def all(self) -> dict[str, FeedState]:
        return {k: doc_to_feed_state(v) for k, v in self._source.values(FEEDS_TABLE).items()}

    def put(self, state: FeedState) -> None:
        self._source.put(FEEDS_TABLE, state.feed_id, feed_state_to_doc(state))


_SUBSCRIPTIONS = record_table("subscriptions")


def _subscription(_key: str, value: Mapping[str, Any]) -> Subscription:
    return records.subscription_from_json(value)


class SubscriptionRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, subscription_id: str) -> Subscription | None:
        value = self._source.value(_SUBSCRIPTIONS, subscription_id)
        return read_one(_SUBSCRIPTIONS, subscription_id, value, _subscription)

    def list(self, owner: str | None = None) -> list[Subscription]:
        found = [
            sub
            for key, value in self._source.values(_SUBSCRIPTIONS).items()
            if owner is None or (isinstance(value, Mapping) and value.get("owner") == owner)
            if (sub := read_one(_SUBSCRIPTIONS, key, value, _subscription)) is not None
        ]
        found.sort(key=lambda sub: (sub.created_at, sub.id))
        return found

    def ids(self) -> set[str]:
        return set(self._source.values(_SUBSCRIPTIONS))

    def put(self, subscription: Subscription) -> None:
        value = records.subscription_to_json(subscription)
        self._source.put(_SUBSCRIPTIONS, subscription.id, value)

    def delete(self, subscription_id: str) -> bool:
        if self._source.value(_SUBSCRIPTIONS, subscription_id) is None:
            return False
        self._source.delete(_SUBSCRIPTIONS, subscription_id)
        return True


_DELIVERIES = record_table("inflight_alerts")


class AlertDeliveryRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def all(self) -> list[AlertDelivery]:
        return list(read_all(self._source, _DELIVERIES, records.delivery_from_json).values())

    def get(self, key: str) -> AlertDelivery | None:
        value = self._source.value(_DELIVERIES, key)
        return read_one(_DELIVERIES, key, value, records.delivery_from_json)

    def begin(self, delivery: AlertDelivery) -> None:
        self._source.put(_DELIVERIES, delivery.key, records.delivery_to_json(delivery))

    def finish(self, key: str) -> None:
        self._source.delete(_DELIVERIES, key)


_DIGESTS = record_table("digests")


class DigestRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, channel: str) -> DigestState | None:
        value = self._source.value(_DIGESTS, channel)
        return read_one(_DIGESTS, channel, value, records.digest_from_json)

    def put(self, state: DigestState) -> None:
        self._source.put(_DIGESTS, state.channel, records.digest_to_json(state))


_PROBLEMS = record_table("delivery_errors")


class DeliveryProblemRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def all(self) -> dict[str, DeliveryProblem]:
        return read_all(self._source, _PROBLEMS, records.problem_from_json)

    def record(self, problem: DeliveryProblem) -> None:
        self._source.put(_PROBLEMS, problem.target, records.problem_to_json(problem))

    def clear(self, target: str) -> None:
        if self._source.value(_PROBLEMS, target) is not None:
            self._source.delete(_PROBLEMS, target)


_FEED_OVERRIDES = record_table("feed_overrides")
_SCHEDULE_OVERRIDES = record_table("schedule_overrides")


class OverrideRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def feeds(self) -> dict[str, FeedOverride]:
        return read_all(self._source, _FEED_OVERRIDES, records.feed_override_from_json)

    def schedules(self) -> dict[str, ScheduleOverride]:
        return read_all(self._source, _SCHEDULE_OVERRIDES, records.schedule_from_json)

    def put_feed(self, override: FeedOverride) -> None:
        value = records.feed_override_to_json(override)
        self._source.put(_FEED_OVERRIDES, override.feed_id, value)

    def delete_feed(self, feed_id: str) -> None:
        if self._source.value(_FEED_OVERRIDES, feed_id) is not None:
            self._source.delete(_FEED_OVERRIDES, feed_id)

    def put_schedule(self, override: ScheduleOverride) -> None:
        value = records.schedule_to_json(override)
        self._source.put(_SCHEDULE_OVERRIDES, override.channel, value)

    def delete_schedule(self, channel: str) -> bool:
        if self._source.value(_SCHEDULE_OVERRIDES, channel) is None:
            return False
        self._source.delete(_SCHEDULE_OVERRIDES, channel)
        return True


_NOTICES = record_table("ops_notices")


class OpsNoticeRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def all(self) -> dict[str, OpsNotice]:
        return read_all(self._source, _NOTICES, records.notice_from_json)

    def put(self, notice: OpsNotice) -> None:
        self._source.put(_NOTICES, notice.feed_id, records.notice_to_json(notice))

    def delete(self, feed_id: str) -> None:
        if self._source.value(_NOTICES, feed_id) is not None:
            self._source.delete(_NOTICES, feed_id)
