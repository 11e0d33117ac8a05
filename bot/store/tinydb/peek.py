"""What a reader learns of a data directory without opening the store: cheap, by design.

`items_stamp` names the item shard files as they are on disk (name, size,
modification time, inode): a commit that adds, changes or prunes items
replaces a shard by atomic rename, so the stamp changes; one that stores no
item leaves it. `briefbot search` compares it with the stamp the search index
file recorded when it was last brought level with the store's files
(`bot.store.searchdb`), and answers from that file alone when they agree.
`read_overrides` reads the changes made from Slack from state.json alone;
`read_poll_state` those and every feed's state (its conditional-GET
validators), from one reading of state.json: what `briefbot poll` needs to
start its downloads before the store is opened (bot/app/cli/prefetch.py).
Read without the lock: a commit replaces state.json by atomic rename, so a
reading is one commit's whole file, perhaps not the newest by the time the
store is opened, which the caller checks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from bot.models import FeedState
from bot.store.ports import OverrideReader
from bot.store.records.repos import FeedStateRepo, OverrideRepo
from bot.store.tinydb.repos import CommittedRecords
from bot.store.tinydb.statefile import StateFile

__all__ = ["items_stamp", "read_overrides", "read_poll_state"]

# As engine.py names item shards (not imported: the engine loads far more).
_ITEM_SHARD_RE = re.compile(r"^items-\d{4}-\d{2}(?:-p\d+)?\.json$")
_STATE_FILE = "state.json"


def items_stamp(directory: str | Path) -> str:
    """A digest of the item shard files' names, sizes, times and inodes."""
    entries = []
    with os.scandir(directory) as found:
        for entry in found:
            if _ITEM_SHARD_RE.match(entry.name):
                st = entry.stat()
                entries.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
    return hashlib.blake2b("\n".join(sorted(entries)).encode(), digest_size=16).hexdigest()


def read_overrides(directory: str | Path) -> OverrideReader:
    """The overrides (feeds and schedules changed from Slack) as state.json holds them."""
    return OverrideRepo(CommittedRecords(_state_file(directory)))


def read_poll_state(directory: str | Path) -> tuple[OverrideReader, dict[str, FeedState]]:
    """The overrides and every feed's state, as one reading of state.json holds them."""
    current = _state_file(directory)
    return OverrideRepo(CommittedRecords(current)), FeedStateRepo(CommittedRecords(current)).all()


def _state_file(directory: str | Path) -> Callable[[], StateFile]:
    path = Path(directory) / _STATE_FILE
    state = StateFile.load(path) if path.exists() else StateFile.create(path)
    return lambda: state
