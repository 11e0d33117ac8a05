"""Item and tombstone files: TinyDB's JSON, one document per line, other layouts converted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tinydb import TinyDB
from tinydb.table import Document

from bot.models import FeedState
from bot.store.ports import StoreError
from bot.store.tinydb.engine import SHARD_MAX_ITEMS
from bot.store.tinydb.migrations import SCHEMA_VERSION
from bot.store.tinydb.shards import split_lines
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import NOW, add, data_files, item, listing
from tests.support.store_worker import make_batch


def test_files_are_valid_versioned_tinydb_json(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        with s.transaction() as tx:
            tx.items.add([item("a", title="Entity List Additions")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="fr-bis", etag="e1"))
            assert not (data / "items-2026-11.json").exists()  # nothing before the commit
        stats = s.stats()
    names = [p.name for p in data_files(data)]
    assert names == ["items-2026-11.json", "state.json"]
    assert stats.bytes == sum(p.stat().st_size for p in data_files(data))
    assert (stats.items, stats.tombstones, stats.last_seq, stats.files) == (1, 0, 1, 2)
    for path in data_files(data):
        content = json.loads(path.read_bytes())
        assert content["_meta"]["1"]["schema"] == SCHEMA_VERSION
    # Stock TinyDB reads our files: the format is TinyDB's own.
    with TinyDB(data / "items-2026-11.json", access_mode="r") as db:
        assert db.table("items").get(doc_id=1)["title"] == "Entity List Additions"
    state = json.loads((data / "state.json").read_bytes())
    assert state["_meta"]["1"]["seq_high_water"] == 1
    assert [d["value"]["etag"] for d in state["feeds"].values()] == ["e1"]


def test_full_shard_continues_in_a_new_part(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, make_batch("n", SHARD_MAX_ITEMS + 5))
    with TinyStore.open(data) as s:
        add(s, make_batch("m", 3))
        assert s.stats().files == 3  # state.json and two item shards
        assert s.items.last_seq == s.items.count() == SHARD_MAX_ITEMS + 8
    counts = {p.name: len(json.loads(p.read_bytes()).get("items", {})) for p in data_files(data)}
    assert counts == {
        "items-2026-11.json": SHARD_MAX_ITEMS,
        "items-2026-11-p2.json": 8,
        "state.json": 0,
    }


def test_shards_hold_one_item_per_line_and_tinydb_files_are_converted(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    # A shard as stock TinyDB writes it (one line, its own key order): the
    # store reads it whole and rewrites it in its line layout when it opens
    # the directory to write.
    with TinyDB(data / "items-2026-11.json", access_mode="r+") as db:
        db.table("_meta").insert({"schema": SCHEMA_VERSION, "kind": "items"})
        db.table("items").insert(
            {
                "title": "Written by TinyDB",
                "id": "t1",
                "feed_id": "fr-bis",
                "first_seen": "2026-11-02T10:00:00+00:00",
                "dedup_keys": list(item("t1").dedup_keys),
            }
        )
    with TinyDB(data / "seen-2026-10.json", access_mode="r+") as db:
        db.table("_meta").insert({"schema": SCHEMA_VERSION, "kind": "seen"})
        tombstone = {
            "feed_id": "fr-bis",
            "id": "gone",
            "first_seen": "2026-10-02T10:00:00+00:00",
            "dedup_keys": list(item("gone").dedup_keys),
        }
        db.table("seen").insert(Document(tombstone, doc_id=7))
    with TinyStore.open(data) as s:
        # Converted at open, before any transaction.
        converted = (data / "items-2026-11.json").read_bytes()
        assert split_lines(converted, "items") is not None
        assert converted.split(b"\n")[1].startswith(b'"1":{"seq":1,"dedup_keys":[')
        seen_lines = (data / "seen-2026-10.json").read_bytes().split(b"\n")
        assert seen_lines[1].startswith(b'"7":{"seq":7,"dedup_keys":[')
        assert s.items.is_known(item("gone"))
        t1 = s.items.get("fr-bis", "t1")
        assert t1 is not None and t1.title == "Written by TinyDB"
        add(s, [item("a\nb", title='Line\nbreak "quoted" \\ back-slash')])
    lines = (data / "items-2026-11.json").read_bytes().split(b"\n")
    # A head line, one line per item (newlines in text escaped), a closing line.
    assert len(lines) == 4
    assert lines[1].startswith(b'"1":{"seq":1,"dedup_keys":[')
    assert lines[2].startswith(b'"8":{"seq":8,"dedup_keys":[')  # after the tombstone's 7
    with TinyDB(data / "items-2026-11.json", access_mode="r") as db:
        assert db.table("items").get(doc_id=8)["id"] == "a\nb"
    before = listing(data)
    with TinyStore.open(data) as s:
        # Read line by line, nothing to convert: neither file was rewritten.
        after = listing(data)
        for name in ("items-2026-11.json", "seen-2026-10.json", "state.json"):
            assert after[name] == before[name], f"{name} was rewritten"
        assert s.items.is_known(item("gone"))
        again = s.items.get("fr-bis", "a\nb")
        assert again is not None
        assert again.title == 'Line\nbreak "quoted" \\ back-slash'
        assert s.items.is_known(item("a\nb"))


def test_hand_edited_shards_are_read_whole_and_damage_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with TinyStore.open(data) as s:
        add(s, [item("ok"), item("edited")])
    path = data / "items-2026-11.json"
    original = path.read_bytes()
    # Still valid JSON, lines changed: the checksum in _meta sends it down the
    # slow path, which reads the edit and rewrites the file.
    edited = original.replace(b'"Title of edited"', b'"Title, edited by hand"')
    path.write_bytes(edited)
    assert split_lines(edited, "items") is None
    with TinyStore.open(data) as s:
        loaded = s.items.get("fr-bis", "edited")
        assert loaded is not None and loaded.title == "Title, edited by hand"
        rewritten = path.read_bytes()
        assert rewritten != edited and split_lines(rewritten, "items") is not None
    before = listing(data)
    with TinyStore.open(data) as s:
        assert listing(data)[path.name] == before[path.name], "rewritten a second time"
        assert s.items.count() == 2
    # Cut inside a document: refused at open, naming the file.
    path.write_bytes(path.read_bytes().replace(b'"title":"Title of ok"', b'"title":"Title o'))
    with pytest.raises(StoreError) as damaged:
        TinyStore.open(data)
    assert f"{path} is not valid JSON" in str(damaged.value)
