"""Schema versions of the data files, and the migrations between them.

Every file carries its version in its `_meta` table (`{"schema": N, "kind":
"items"|"seen"|"state"}`). A file of an older version is migrated when read
and rewritten in the current layout; a file of a newer version is refused
with a sentence saying to upgrade, never misread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from bot.store.ports import StoreError
from bot.store.records.codec import dedup_keys

__all__ = ["META_DOC", "META_TABLE", "SCHEMA_VERSION", "migrate", "read_tables"]

log = logging.getLogger(__name__)

#: The layout version written into every file's `_meta` table.
SCHEMA_VERSION = 1
META_TABLE = "_meta"
META_DOC = "1"
ITEMS_TABLE = "items"

Tables = dict[str, dict[str, Any]]
_Migration = Callable[[str, Tables], Tables]
# from-version -> function returning the data at from-version + 1.
_MIGRATIONS: dict[int, _Migration] = {}


def _migration(from_version: int) -> Callable[[_Migration], _Migration]:
    def register(func: _Migration) -> _Migration:
        _MIGRATIONS[from_version] = func
        return func

    return register


def read_tables(path: Path, kind: str, raw: bytes | None = None) -> tuple[Tables, bool]:
    """A data file's tables, migrated to SCHEMA_VERSION, and whether migration changed them."""
    if raw is None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StoreError(
            f"{path} is not valid JSON ({exc}); restore it from a backup or move it away"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreError(f"{path} is not a TinyDB file (expected an object of tables)")
    data, migrated = migrate(path, kind, data)
    found = data.get(META_TABLE, {}).get(META_DOC, {}).get("kind", kind)
    if found != kind:
        raise StoreError(f"{path} holds {found!r} data where {kind!r} data was expected")
    return data, migrated


def schema_version(data: Mapping[str, Any]) -> int:
    meta = data.get(META_TABLE, {}).get(META_DOC)
    if meta is None:
        return 0
    version = meta.get("schema") if isinstance(meta, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        return -1
    return version


def migrate(path: Path, kind: str, data: Tables) -> tuple[Tables, bool]:
    """Bring `data` read from `path` up to SCHEMA_VERSION; say whether anything changed."""
    version = schema_version(data)
    if version < 0:
        raise StoreError(f"{path}: the _meta table holds no valid schema version")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, but this briefbot understands at most "
            f"version {SCHEMA_VERSION}; upgrade briefbot or use another BRIEFBOT_DATA"
        )
    start = version
    while version < SCHEMA_VERSION:
        try:
            data = _MIGRATIONS[version](kind, data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(
                f"{path}: cannot migrate from schema version {version}: {exc!r}"
            ) from exc
        version += 1
    if version != start:
        log.info("migrated %s from schema version %d to %d", path, start, version)
    return data, version != start


@_migration(0)
def _migrate_v0_to_v1(kind: str, data: Tables) -> Tables:
    """Version 0 (unversioned) files lacked `_meta`, and items lacked `dedup_keys`."""
    if kind == "items":
        for doc_id, doc in data.get(ITEMS_TABLE, {}).items():
            doc.setdefault("seq", int(doc_id))
            if "dedup_keys" not in doc:
                doc["dedup_keys"] = list(
                    dedup_keys(doc["feed_id"], doc["id"], doc.get("link_title_key"))
                )
    data[META_TABLE] = {META_DOC: {"schema": 1, "kind": kind}}
    return data
