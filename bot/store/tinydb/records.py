"""Moved to `bot.store.records.values` (shared by both backends); names kept for old imports."""

from bot.store.records.values import (
    alert_from_json,
    alert_to_json,
    delivery_from_json,
    delivery_to_json,
    digest_from_json,
    digest_to_json,
    feed_override_from_json,
    feed_override_to_json,
    notice_from_json,
    notice_to_json,
    problem_from_json,
    problem_to_json,
    schedule_from_json,
    schedule_to_json,
    subscription_from_json,
    subscription_to_json,
)

__all__ = [
    "alert_from_json",
    "alert_to_json",
    "delivery_from_json",
    "delivery_to_json",
    "digest_from_json",
    "digest_to_json",
    "feed_override_from_json",
    "feed_override_to_json",
    "notice_from_json",
    "notice_to_json",
    "problem_from_json",
    "problem_to_json",
    "schedule_from_json",
    "schedule_to_json",
    "subscription_from_json",
    "subscription_to_json",
]
