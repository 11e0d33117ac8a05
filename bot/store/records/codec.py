"""Items and feed states as JSON documents, and the dedup index's key digests.

JSON text is UTF-8 (RFC 8259 section 8.1), where lone surrogates cannot be
encoded; feed text decoded from a stray "&#xD800;" can carry them, so they are
replaced by U+FFFD on the way in (`to_json`). Integers outside 64 bits and
non-finite floats are refused with the path of the bad value: other JSON
readers would not keep them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from bot.models import FeedState, Item, as_utc
from bot.store.ports import StoreError

__all__ = [
    "clean_text",
    "dedup_keys",
    "doc_to_feed_state",
    "doc_to_item",
    "extra_marker",
    "feed_state_to_doc",
    "iso",
    "item_to_doc",
    "key_digest",
    "month_of",
    "parse_time",
    "to_json",
]

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_FEED_STATE_FIELDS = {f.name: str(f.type) for f in fields(FeedState)}
_blake2b = hashlib.blake2b


def clean_text(text: str) -> str:
    """`text` as it can be stored: lone surrogates replaced by U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text)


def dedup_keys(feed_id: str, item_id: str, link_title_key: str | None = None) -> tuple[str, ...]:
    # models.Item owns the key format; build a throwaway Item rather than copy it.
    return Item(id=item_id, feed_id=feed_id, title="", link_title_key=link_title_key).dedup_keys


def key_digest(key: str) -> bytes:
    """The dedup index's key: 16 bytes of BLAKE2b instead of the key itself.

    Keys are feed id + item id or link + title, often 100-200 characters; two
    per item made a third of the index's memory. At 128 bits a collision (an
    item wrongly taken as known) has odds of about n^2 / 2^129: 1e-29 for a
    million keys.
    """
    try:
        data = key.encode("utf-8")
    except UnicodeEncodeError:
        # Stored keys had lone surrogates replaced (`to_json`): hash what was stored.
        data = _SURROGATE_RE.sub("\ufffd", key).encode("utf-8")
    return _blake2b(data, digest_size=16).digest()


def iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def month_of(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m}"


def to_json(value: Any, where: str) -> Any:
    """A deep copy of `value` made only of JSON types; raise StoreError naming the bad part."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise StoreError(f"{where} is an integer outside the 64-bit range JSON readers keep")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StoreError(f"{where} is {value}, which JSON cannot represent")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, sub in value.items():
            if not isinstance(key, str):
                raise StoreError(f"{where} has a key {key!r} that is not a string")
            out[_SURROGATE_RE.sub("\ufffd", key)] = to_json(sub, f"{where}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [to_json(sub, f"{where}[{i}]") for i, sub in enumerate(value)]
    raise StoreError(
        f"{where} is a {type(value).__name__}, not a JSON value "
        "(str, int, float, bool, None, list or dict)"
    )


def extra_marker(key: str) -> bytes:
    """What a stored document (compact JSON, UTF-8) holding `extras[key]` contains: the
    key as a JSON string. A string value never contains it (its quotes are escaped),
    so a document without it has no such extra; one with it is decoded to be sure."""
    return json.dumps(key, ensure_ascii=False).encode()


def item_to_doc(item: Item) -> dict[str, Any]:
    where = f"item {item.id!r} of feed {item.feed_id!r}"
    # seq and dedup_keys first: a shard is indexed from these two alone
    # (`shards.split_lines`).
    doc = {
        "seq": item.seq,
        "dedup_keys": list(item.dedup_keys),
        "id": item.id,
        "feed_id": item.feed_id,
        "title": item.title,
        "summary": item.summary,
        "link": item.link,
        "published": iso(item.published),
        "authors": list(item.authors),
        "tags": list(item.tags),
        "guid": item.guid,
        "link_title_key": item.link_title_key,
        "first_seen": iso(item.first_seen),
        "backlog": item.backlog,
    }
    cleaned: dict[str, Any] = to_json(doc, where)
    cleaned["extras"] = to_json(item.extras, f"{where}: extras")
    return cleaned


def doc_to_item(doc: Mapping[str, Any], *, copy_extras: bool = False) -> Item:
    """The Item a stored document describes.

    A document freshly decoded from bytes is the caller's own; pass
    `copy_extras=True` for one that is kept elsewhere too.
    """
    extras = doc.get("extras") or {}
    return Item(
        id=doc["id"],
        feed_id=doc["feed_id"],
        title=doc.get("title") or "",
        summary=doc.get("summary") or "",
        link=doc.get("link"),
        published=parse_time(doc.get("published")),
        authors=tuple(doc.get("authors") or ()),
        tags=tuple(doc.get("tags") or ()),
        guid=doc.get("guid"),
        link_title_key=doc.get("link_title_key"),
        first_seen=parse_time(doc.get("first_seen")),
        backlog=bool(doc.get("backlog")),
        seq=int(doc["seq"]),
        extras=copy.deepcopy(extras) if copy_extras else extras,
    )


def feed_state_to_doc(state: FeedState) -> dict[str, Any]:
    doc = {}
    for name in _FEED_STATE_FIELDS:
        value = getattr(state, name)
        doc[name] = iso(value) if isinstance(value, datetime) else value
    cleaned: dict[str, Any] = to_json(doc, f"state of feed {state.feed_id!r}")
    return cleaned


def doc_to_feed_state(doc: Mapping[str, Any]) -> FeedState:
    # Unknown keys (written by a newer minor version) are ignored and missing
    # ones take the dataclass default, so adding a field needs no migration.
    values: dict[str, Any] = {}
    for name, annotation in _FEED_STATE_FIELDS.items():
        if name in doc:
            value = doc[name]
            values[name] = parse_time(value) if "datetime" in annotation else value
    return FeedState(**values)
