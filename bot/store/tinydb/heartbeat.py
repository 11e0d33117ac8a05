"""health.json: the running service's heartbeat, beside the data it holds.

Written by the process that holds the directory (atomic replace, like every
file here, but outside any transaction: it is rewritten every half minute and
a lost one costs nothing) and read by anyone, lock or not: `briefbot health`
in a container's health check, `briefbot status`. A missing or damaged file
reads as "no heartbeat".
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.models import as_utc
from bot.store.ports import Heartbeat
from bot.store.tinydb.files import write_files

__all__ = ["HEALTH_FILE", "read_heartbeat", "write_heartbeat"]

log = logging.getLogger(__name__)

HEALTH_FILE = "health.json"


@dataclass(frozen=True)
class _HealthFile:
    path: Path
    heartbeat: Heartbeat

    def serialize(self) -> bytes:
        beat = self.heartbeat
        checked = beat.slack_checked_at
        data: dict[str, Any] = {
            "at": as_utc(beat.at).isoformat(),
            "pid": beat.pid,
            "slack_mode": beat.slack_mode,
            "slack_ok": beat.slack_ok,
            "slack_checked_at": as_utc(checked).isoformat() if checked else None,
            "slack_detail": beat.slack_detail,
        }
        return json.dumps(data, ensure_ascii=False).encode()


def write_heartbeat(directory: Path, heartbeat: Heartbeat) -> None:
    write_files([_HealthFile(directory / HEALTH_FILE, heartbeat)], directory)


def read_heartbeat(directory: Path) -> Heartbeat | None:
    try:
        data = json.loads((directory / HEALTH_FILE).read_bytes())
        checked = data.get("slack_checked_at")
        return Heartbeat(
            at=datetime.fromisoformat(data["at"]),
            pid=int(data["pid"]),
            slack_mode=str(data["slack_mode"]),
            slack_ok=bool(data["slack_ok"]),
            slack_checked_at=datetime.fromisoformat(checked) if checked else None,
            slack_detail=str(data.get("slack_detail") or ""),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("cannot read %s: %s", directory / HEALTH_FILE, exc)
        return None
