"""The data directory on disk: private files, crash leftovers, one writing process at a time."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
from pathlib import Path

import pytest

from bot.store.ports import StoreError, StoreLockedError
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import add, held, item, release


def test_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    old_umask = os.umask(0)  # prove the modes do not depend on the umask
    try:
        with TinyStore.open(data) as s:
            add(s, [item("a")])
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert modes == {
        "LOCK": 0o600,
        "owner.json": 0o600,
        "state.json": 0o600,
        "items-2026-11.json": 0o600,
    }


def test_temp_files_left_by_a_crash_are_removed_when_opened_to_write(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("a")])
    shard = (data / "items-2026-11.json").read_bytes()
    # A crash mid-write leaves a temp file beside the whole old version.
    leftover = data / ".items-2026-11.json.tmp"
    leftover.write_bytes(shard[: len(shard) // 2])
    with TinyStore.open(data) as s:
        assert not leftover.exists()
        assert s.items.count() == 1
    assert (data / "items-2026-11.json").read_bytes() == shard


def test_a_file_where_the_directory_should_be_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.write_text("not a directory")
    for read_only in (False, True):
        with pytest.raises(StoreError, match="exists but is not a directory"):
            TinyStore.open(data, read_only=read_only)
    assert data.read_text() == "not a directory"


# ------------------------------------------------------------------ one process at a time


def test_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with held(data) as holder:
        with pytest.raises(StoreLockedError) as refused:
            TinyStore.open(data)
        assert str(refused.value).startswith(
            f"data directory {data} is in use by process {holder.pid} (started "
        )
        assert f"UTC on host {socket.gethostname()}); stop it or use another BRIEFBOT_DATA" in str(
            refused.value
        )
        release(holder)
    with TinyStore.open(data) as s:
        owner = json.loads((data / "owner.json").read_bytes())
        assert owner["pid"] == os.getpid()
        assert s.items.count() == 0
    assert not (data / "owner.json").exists()


def test_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with held(data) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with TinyStore.open(data) as s:
        assert json.loads((data / "owner.json").read_bytes())["pid"] == os.getpid()
        assert s.items.count() == 0


def test_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with (
        TinyStore.open(tmp_path / "d"),
        pytest.raises(StoreLockedError, match=f"in use by process {os.getpid()} "),
    ):
        TinyStore.open(tmp_path / "d")
    with TinyStore.open(tmp_path / "d") as s:
        assert s.items.count() == 0
