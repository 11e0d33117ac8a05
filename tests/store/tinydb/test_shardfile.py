"""Item documents read from their shard files on demand: rewrites, torn lines, files changed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store.ports import StoreError
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import add, item

SHARD = "items-2026-11.json"


def _titles(store: TinyStore) -> dict[str, str]:
    return {i.id: i.title for i in store.items.after()}


def test_items_read_right_after_their_shard_is_rewritten(tmp_path: Path) -> None:
    data = tmp_path / "d"
    may = [item(f"m{n}", summary="x" * (50 * n)) for n in range(5)]
    with TinyStore.open(data, retention_days=180) as s:
        add(s, may[:2], now=datetime(2026, 5, 2, tzinfo=UTC))
        add(s, may[2:], now=datetime(2026, 5, 20, tzinfo=UTC))
        add(s, [item("a"), item("b"), item("c")])
        # The shard is rewritten with a longer line in the middle: what follows moves.
        with s.transaction() as tx:
            tx.items.update_extras("fr-bis", "b", {"note": "n" * 5000})
            tx.items.update_extras("fr-bis", "a", {"short": 1})
        add(s, [item("d")])
        got = s.items.get("fr-bis", "b")
        assert got is not None and got.extras["note"] == "n" * 5000
        assert _titles(s) == {
            **{i.id: i.title for i in may},
            **{k: f"Title of {k}" for k in "abcd"},
        }
        # Pruned from the front of May's shard: the lines after it move up.
        assert s.prune(datetime(2026, 11, 6, tzinfo=UTC)) == 2
        found = [i.id for i in s.items.by_seq(range(1, 10))]
        assert found == ["m2", "m3", "m4", "a", "b", "c", "d"]
        m4 = s.items.get("fr-bis", "m4")
        assert m4 is not None and m4.summary == "x" * 200
    with TinyStore.open(data, read_only=True) as again:
        assert set(_titles(again)) == {"m2", "m3", "m4", "a", "b", "c", "d"}


def test_a_reader_keeps_its_snapshot_while_the_writer_rewrites_and_prunes(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data, retention_days=180) as writer:
        add(writer, [item("old")], now=datetime(2026, 5, 2, tzinfo=UTC))
        add(writer, [item("a"), item("b")])
        reader = TinyStore.open(data, read_only=True)
        with writer.transaction() as tx:
            tx.items.update_extras("fr-bis", "a", {"note": "n" * 3000})
        add(writer, [item("c")])
        assert writer.prune(datetime(2026, 11, 6, tzinfo=UTC)) == 1
        assert not (data / "items-2026-05.json").exists()
        # The reader opened before all that: it still reads what it saw, whole.
        assert _titles(reader) == {"old": "Title of old", "a": "Title of a", "b": "Title of b"}
        a = reader.items.get("fr-bis", "a")
        assert a is not None and "note" not in a.extras
        # The writer reads its own new versions.
        new_a = writer.items.get("fr-bis", "a")
        assert new_a is not None and new_a.extras["note"] == "n" * 3000
        assert set(_titles(writer)) == {"a", "b", "c"}
        reader.close()


def test_a_torn_last_line_is_refused_at_open_naming_the_file(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("a"), item("b"), item("last", summary="s" * 300)])
    path = data / SHARD
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.rindex(b"s" * 300) + 100])  # cut inside the last document
    with pytest.raises(StoreError) as refused:
        TinyStore.open(data)
    assert f"{path} is not valid JSON" in str(refused.value)


def test_a_shard_cut_under_an_open_store_is_reported_not_misread(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("a"), item("b"), item("last", summary="s" * 300)])
        path = data / SHARD
        os.truncate(path, path.stat().st_size - 200)  # the same file, its tail lost
        first = s.items.get("fr-bis", "a")
        assert first is not None and first.title == "Title of a"
        with pytest.raises(StoreError) as cut:
            s.items.get("fr-bis", "last")
        message = str(cut.value)
        assert f"{path} changed on disk while the store had it open" in message
        assert "restore the file from a backup" in message
        with pytest.raises(StoreError):
            list(s.items.after())


def test_a_shard_edited_in_place_is_reported_then_read_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("a"), item("b")])
        path = data / SHARD
        # Same length, same inode: only the check of what is read can tell.
        with path.open("r+b") as f:
            raw = f.read()
            f.seek(raw.index(b"Title of b"))
            f.write(b"Title of B")
        with pytest.raises(StoreError) as edited:
            s.items.get("fr-bis", "b")
        assert f"{path} changed on disk" in str(edited.value)
        a = s.items.get("fr-bis", "a")
        assert a is not None and a.title == "Title of a"
    with TinyStore.open(data) as s:
        # At open the file checksum no longer matches: read whole, the edit kept.
        assert _titles(s) == {"a": "Title of a", "b": "Title of B"}


def test_a_shard_replaced_under_an_open_store_does_not_move_its_items(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("a"), item("b")])
        path = data / SHARD
        # Another version renamed over it (a restore from an old backup): the
        # store keeps reading the file it indexed until it is opened again.
        replacement = tmp_path / "other.json"
        replacement.write_bytes(path.read_bytes().replace(b"Title of a", b"Title of Z"))
        replacement.replace(path)
        assert _titles(s) == {"a": "Title of a", "b": "Title of b"}
        add(s, [item("c")])  # the next commit writes what the store holds, plus c
    with TinyStore.open(data) as s:
        assert _titles(s) == {"a": "Title of a", "b": "Title of b", "c": "Title of c"}
