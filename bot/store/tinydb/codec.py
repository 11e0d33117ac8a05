"""Moved to `bot.store.records.codec` (shared by both backends); names kept here for old imports."""

from bot.store.records.codec import (
    clean_text,
    dedup_keys,
    doc_to_feed_state,
    doc_to_item,
    feed_state_to_doc,
    iso,
    item_to_doc,
    key_digest,
    month_of,
    parse_time,
    to_json,
)

__all__ = [
    "clean_text",
    "dedup_keys",
    "doc_to_feed_state",
    "doc_to_item",
    "feed_state_to_doc",
    "iso",
    "item_to_doc",
    "key_digest",
    "month_of",
    "parse_time",
    "to_json",
]
