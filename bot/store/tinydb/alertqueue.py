"""Moved to `bot.store.records.alertqueue` (shared by both backends); kept for old imports."""

from bot.store.records.alertqueue import SENT_RETENTION, AlertQueueRepo

__all__ = ["SENT_RETENTION", "AlertQueueRepo"]
