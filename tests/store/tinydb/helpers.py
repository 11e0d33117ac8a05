"""What the TinyDB store's tests share: items to store, the data files, the worker process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import Item
from bot.store.tinydb.store import TinyStore
from tests.support import paths

WORKER = str(paths.TESTS / "support" / "store_worker.py")
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def item(item_id: str, feed_id: str = "fr-bis", **fields: Any) -> Item:
    values: dict[str, Any] = {"title": f"Title of {item_id}", "link_title_key": None}
    values.update(fields)
    return Item(id=item_id, feed_id=feed_id, **values)


def add(store: TinyStore, items: Iterable[Item], *, now: datetime = NOW, **kw: Any) -> list[Item]:
    """Store `items` in a transaction of their own; the stored copies."""
    with store.transaction() as tx:
        return tx.items.add(items, now=now, **kw)


def data_files(data: Path) -> list[Path]:
    return sorted(p for p in data.iterdir() if p.suffix == ".json")


def listing(data: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry of the directory: (inode, mtime, content); a rewrite changes the inode."""
    found: dict[str, tuple[int, int, bytes]] = {}
    for path in sorted(data.iterdir()):
        st = path.stat()
        found[path.name] = (st.st_ino, st.st_mtime_ns, path.read_bytes() if path.is_file() else b"")
    return found


def start_worker(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def committed_lines(out: str) -> list[tuple[int, int, int]]:
    """(last_seq, count, round) of each complete "committed" line the worker printed."""
    lines = [line.split() for line in out.splitlines(keepends=True) if line.endswith("\n")]
    return [(int(p[1]), int(p[2]), int(p[3])) for p in lines if p and p[0] == "committed"]


@contextmanager
def held(data: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `data` (opened to write) for the duration of the block."""
    holder = start_worker("hold", str(data), stdin=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stderr is not None
        ready = holder.stdout.readline()
        assert ready == f"ready {holder.pid}\n", ready + holder.stderr.read()
        yield holder
    finally:
        holder.kill()
        holder.wait()


def release(holder: subprocess.Popen[str]) -> None:
    """Ask a `hold` worker to close the store and wait for it to exit cleanly."""
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("close\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == "closed\n"
    assert holder.wait(timeout=30) == 0
