"""The data directory on disk: private files, crash leftovers, one writing process at a time."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.ports import StoreError, StoreLockedError
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import add, held, item, release
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer


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
        "items-2026-11.keys": 0o600,  # its index (bot/store/tinydb/keyfile.py)
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


# Runs `briefbot ARGS` with files limited to LIMIT bytes: the kernel then refuses
# to grow a file past it (EFBIG), part-way through a write, as a full disk does
# (ENOSPC). Python ignores SIGXFSZ, so the write fails instead of killing it.
_LIMITED = (
    "import resource, runpy, sys; limit = int(sys.argv.pop(1));"
    " resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY));"
    " sys.argv[0] = 'briefbot'; runpy.run_module('bot', run_name='__main__')"
)


def briefbot(config: Path, *args: str, max_file_size: int = -1) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-c", _LIMITED, str(max_file_size), "--config", str(config), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_a_write_the_disk_refuses_part_way_leaves_no_half_file_and_loses_nothing(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    config = tmp_path / "feeds.yaml"
    url = feed_server.url("/wire.xml")
    config.write_text(
        f"settings:\n  data_dir: {data}\nfeeds:\n  - id: wire\n    url: {url}\n"
        "    allow_private: true\n"
    )
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 20, prefix="Wire story")))
    assert briefbot(config, "poll")[0] == 0
    shard = data / f"items-{datetime.now(UTC):%Y-%m}.json"
    before = {name: (data / name).read_bytes() for name in (shard.name, "state.json")}
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 220, prefix="Wire story")))

    # Room for the files as they are, not for the shard with 200 more items.
    status, out = briefbot(config, "poll", max_file_size=len(before[shard.name]) + 4096)
    assert status == 1
    assert f"error: cannot write {shard}: File too large" in out
    assert sorted(p.name for p in data.glob(".*")) == [], "a half-written temp file was left"
    assert {name: (data / name).read_bytes() for name in before} == before

    status, out = briefbot(config, "poll")  # the disk has room again
    assert status == 0, out
    with TinyStore.open(data) as store:
        titles = {i.title for i in store.items.after()}
    assert titles == {f"Wire story {n}" for n in range(1, 221)}


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
