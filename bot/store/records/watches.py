"""The watchlist repository: table `watches` of state.json (a few hundred small records)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.models import as_utc
from bot.store.ports.watches import Watch
from bot.store.records.repos import RecordSource, read_one, record_table
from bot.store.records.values import workspace_from_json, workspace_to_json

__all__ = ["WatchRepo", "watch_from_json", "watch_to_json"]

_WATCHES = record_table("watches")


def watch_to_json(watch: Watch) -> dict[str, Any]:
    return {
        "id": watch.id,
        "owner": watch.owner,
        "name": watch.name,
        "created_by": watch.created_by,
        "created_at": as_utc(watch.created_at).isoformat(),
        "aliases": list(watch.aliases),
        **workspace_to_json(watch.team_id, watch.enterprise_id),
    }


def watch_from_json(_key: str, record: Mapping[str, Any]) -> Watch:
    try:
        fields = {k: record[k] for k in ("id", "owner", "name", "created_by")}
        created_at = datetime.fromisoformat(record["created_at"])
    except KeyError as err:
        raise ValueError(f"watch record lacks {err.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ValueError(
            f"watch record has a bad created_at: {record.get('created_at')!r}"
        ) from None
    bad = [k for k, v in fields.items() if not isinstance(v, str) or not v]
    if bad:
        raise ValueError(f"watch record's {bad[0]} must be a non-empty text")
    aliases = record.get("aliases")
    team_id, enterprise_id = workspace_from_json(record)
    return Watch(
        id=fields["id"],
        owner=fields["owner"],
        name=fields["name"],
        created_by=fields["created_by"],
        created_at=as_utc(created_at),
        aliases=tuple(a for a in aliases if isinstance(a, str) and a)
        if isinstance(aliases, list)
        else (),
        team_id=team_id,
        enterprise_id=enterprise_id,
    )


class WatchRepo:
    def __init__(self, source: RecordSource) -> None:
        self._source = source

    def get(self, watch_id: str) -> Watch | None:
        return read_one(_WATCHES, watch_id, self._source.value(_WATCHES, watch_id), watch_from_json)

    def list(self, owner: str | None = None) -> list[Watch]:
        found = [
            watch
            for key, value in self._source.values(_WATCHES).items()
            if owner is None or (isinstance(value, Mapping) and value.get("owner") == owner)
            if (watch := read_one(_WATCHES, key, value, watch_from_json)) is not None
        ]
        found.sort(key=lambda w: (w.created_at, w.id))
        return found

    def ids(self) -> set[str]:
        return set(self._source.values(_WATCHES))

    def put(self, watch: Watch) -> None:
        self._source.put(_WATCHES, watch.id, watch_to_json(watch))

    def delete(self, watch_id: str) -> bool:
        if self._source.value(_WATCHES, watch_id) is None:
            return False
        self._source.delete(_WATCHES, watch_id)
        return True
