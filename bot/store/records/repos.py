"""The record repositories: feed states and every record table, typed, over any backend.

Each repository reads and writes (table, key) -> JSON value through a
`RecordSource`, which is the backend's business: TinyDB's state.json
(`bot.store.tinydb.repos`: committed or staged in a transaction) or
PostgreSQL's `records` table (`bot.store.postgres.records`). Writing through a
committed source raises StoreReadOnlyError: writes belong in a transaction.
A new kind of record state needs a repository here (or in a module of its
own) and one line in `RecordRepositories`: both backends then serve it.
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
)
from bot.store.records import values as records
from bot.store.records.codec import doc_to_feed_state, feed_state_to_doc

__all__ = [
    "FEEDS_TABLE",
    "RECORD_PREFIX",
    "AlertDeliveryRepo",
    "DeliveryProblemRepo",
    "DigestRepo",
    "FeedStateRepo",
    "OpsNoticeRepo",
    "OverrideRepo",
    "RecordSource",
    "SubscriptionRepo",
    "read_all",
    "read_one",
    "record_table",
]

log = logging.getLogger(__name__)

_R = TypeVar("_R")

#: The table of feed states, and the prefix of every record table's name.
FEEDS_TABLE = "feeds"
RECORD_PREFIX = "rec_"


def record_table(name: str) -> str:
    return RECORD_PREFIX + name


class RecordSource(Protocol):
    """JSON values by table and key (shared: copy before changing one).

    `put` cleans the value (`codec.to_json`: lone surrogates replaced, values
    JSON cannot keep refused with StoreError) and refuses an empty key.
    """

    def value(self, table: str, key: str) -> Any: ...

    def values(self, table: str) -> dict[str, Any]: ...

    def put(self, table: str, key: str, value: Any) -> None: ...

    def delete(self, table: str, key: str) -> None: ...


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
