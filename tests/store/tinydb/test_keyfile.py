"""A shard's key file (bot/store/tinydb/keyfile.py): trusted only while it describes its shard.

Each case stores items, then damages or removes what the key files rely on,
and checks what a reopened store knows: every item found by its dedup key,
every document read back whole, nothing lost, whatever the key files say.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.store.ports import StoreError
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import add, item

IDS = [f"a{n}" for n in range(30)]


def _filled(data: Path, ids: list[str] = IDS) -> None:
    with TinyStore.open(data) as store:
        add(store, [item(i) for i in ids[:20]])
        add(store, [item(i) for i in ids[20:]])


def _known(data: Path, ids: list[str] = IDS) -> tuple[list[bool], list[str]]:
    """Which of `ids` a read-only open knows, and the titles it reads back, in seq order."""
    with TinyStore.open(data, read_only=True) as store:
        known = store.items.which_known([item(i) for i in ids], former=False)
        titles = [i.title for i in store.items.after(0)]
    return known, titles


def _keyfiles(data: Path) -> list[str]:
    return sorted(p.name for p in data.glob("*.keys"))


def test_a_writer_leaves_a_key_file_beside_each_shard_and_a_reopened_store_knows_it_all(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _filled(data)
    assert _keyfiles(data) == ["items-2026-11.keys"]
    assert _known(data) == ([True] * 30, [f"Title of {i}" for i in IDS])


def test_a_key_file_older_than_its_shard_is_not_trusted(tmp_path: Path) -> None:
    """As after a crash between a commit's shard and its key file: the key file describes
    the shard before the commit, whose items it does not hold."""
    data = tmp_path / "data"
    with TinyStore.open(data) as store:
        add(store, [item(i) for i in IDS[:20]])
    old = (data / "items-2026-11.keys").read_bytes()
    with TinyStore.open(data) as store:
        add(store, [item(i) for i in IDS[20:]])
    (data / "items-2026-11.keys").write_bytes(old)

    assert _known(data) == ([True] * 30, [f"Title of {i}" for i in IDS])
    with TinyStore.open(data):  # a writer's open saves a key file that holds them
        pass
    assert (data / "items-2026-11.keys").read_bytes() != old
    assert _known(data) == ([True] * 30, [f"Title of {i}" for i in IDS])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="torn"),
        pytest.param(lambda raw: raw[:-5] + bytes([raw[-5] ^ 0xFF]) + raw[-4:], id="a-bit-flipped"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: b"BBKEYS9\n" + raw[8:], id="another-version"),
    ],
)
def test_a_damaged_key_file_is_ignored(tmp_path: Path, damage: object) -> None:
    data = tmp_path / "data"
    _filled(data)
    path = data / "items-2026-11.keys"
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert _known(data) == ([True] * 30, [f"Title of {i}" for i in IDS])


def test_a_copy_with_new_times_is_read_from_its_lines(tmp_path: Path) -> None:
    """A copy of the store's files that did not keep their times: its key files are not
    trusted, and the store it makes is whole."""
    data, copy = tmp_path / "data", tmp_path / "copy"
    _filled(data)
    shutil.copytree(data, copy, copy_function=shutil.copy)  # new inodes and times
    (copy / "LOCK").unlink()
    assert _known(copy) == ([True] * 30, [f"Title of {i}" for i in IDS])


def test_a_read_only_open_writes_no_key_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    (data / "items-2026-11.keys").unlink()
    assert _known(data)[0] == [True] * 30
    assert _keyfiles(data) == []


def test_a_key_file_whose_shard_is_gone_is_removed_by_a_writer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _filled(data)
    (data / "items-2025-01.keys").write_bytes(b"left by a prune")
    with TinyStore.open(data):
        pass
    assert _keyfiles(data) == ["items-2026-11.keys"]


@pytest.mark.parametrize("copied", [False, True], ids=["in-place", "in-a-copy-with-its-times"])
def test_a_shard_edited_at_the_same_size_and_time_is_caught_when_read(
    tmp_path: Path, copied: bool
) -> None:
    """The limit of a key file: it is trusted by size and time (and the lines' CRC the
    shard's head states). Bytes changed with both restored and the head left alone are
    still caught, by each document's CRC-32, when read. The same in a copy that kept the
    files' times (`cp -p`): its key files are used (the change is not seen at open)."""
    data = tmp_path / "data"
    _filled(data)
    if copied:
        shutil.copytree(data, tmp_path / "copy")  # copy2: the times kept
        data = tmp_path / "copy"
        (data / "LOCK").unlink()
    shard = data / "items-2026-11.json"
    before = shard.stat()
    raw = shard.read_bytes()
    at = raw.index(b"Title of a7")
    with open(shard, "r+b") as edit:
        edit.seek(at)
        edit.write(b"Title of b7")
    os.utime(shard, ns=(before.st_atime_ns, before.st_mtime_ns))
    with (
        TinyStore.open(data, read_only=True) as store,
        pytest.raises(StoreError, match="changed on disk"),
    ):
        list(store.items.after(0))
