"""The TinyDB store on real files in tmp_path, with real subprocesses for locks and crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from tinydb import TinyDB
from tinydb.table import Document

from bot.models import FeedState, Item
from bot.store.tinydb.engine import (
    SCHEMA_VERSION,
    SHARD_MAX_ITEMS,
    Store,
    StoreError,
    StoreLockedError,
)
from tests.support import paths
from tests.support.store_worker import CRASH_EXIT, make_batch

WORKER = str(paths.TESTS / "support" / "store_worker.py")
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def item(item_id: str, feed_id: str = "fr-bis", **fields: object) -> Item:
    values: dict[str, object] = {"title": f"Title of {item_id}", "link_title_key": None}
    values.update(fields)
    return Item(id=item_id, feed_id=feed_id, **values)


def start_worker(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def data_files(data: Path) -> list[Path]:
    return sorted(p for p in data.iterdir() if p.suffix == ".json")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "data") as s:
        yield s


# ------------------------------------------------------------------ dedup


STORED = item("2026-24751", title="Additions to the Entity List", link_title_key="lt-entity")


@pytest.mark.parametrize(
    ("candidate", "known"),
    [
        pytest.param(item("2026-24751", title="Retitled"), True, id="same-id-new-title"),
        pytest.param(item("guid-changed", link_title_key="lt-entity"), True, id="guid-change"),
        pytest.param(item("2026-24751", feed_id="other-feed"), False, id="same-id-other-feed"),
        pytest.param(item("2026-99999", link_title_key="lt-other"), False, id="new-id-new-key"),
        pytest.param(item("2026-99998"), False, id="new-id-no-key"),
    ],
)
def test_dedup_by_id_and_link_title_key(store: Store, candidate: Item, known: bool) -> None:
    store.add_items([STORED], now=NOW)
    assert store.is_known(candidate) is known
    added = store.add_items([candidate], now=NOW)
    assert [i.id for i in added] == ([] if known else [candidate.id])
    assert store.item_count() == (1 if known else 2)


def test_duplicates_within_one_batch_are_stored_once(store: Store) -> None:
    batch = [
        item("a", title="first", link_title_key="k-a"),
        item("a", title="second copy of a"),
        item("b", link_title_key="k-a"),  # a new GUID for a
        item("c"),
    ]
    added = store.add_items(batch, now=NOW)
    assert [(i.id, i.title, i.seq) for i in added] == [("a", "first", 1), ("c", "Title of c", 2)]
    assert [i.id for i in store.iter_items()] == ["a", "c"]


def test_stored_copy_gets_seq_first_seen_and_backlog(store: Store) -> None:
    later = NOW + timedelta(hours=1)
    first = store.add_items([item("old-1"), item("old-2")], now=NOW, backlog=True)
    second = store.add_items([item("new-1")], now=later)
    assert [(i.seq, i.first_seen, i.backlog) for i in first + second] == [
        (1, NOW, True),
        (2, NOW, True),
        (3, later, False),
    ]
    assert store.get_item("fr-bis", "old-2") == first[1]
    assert store.last_seq == 3


def test_fields_round_trip_through_files(tmp_path: Path) -> None:
    tokyo = timezone(timedelta(hours=9))
    original = Item(
        id="2026-24751",
        feed_id="fr-bis",
        title="Entity List Additions",
        summary="BIS adds 36 entities.",
        link="https://www.federalregister.gov/d/2026-24751",
        published=datetime(2026, 11, 25, 9, 0, tzinfo=tokyo),
        authors=("Bureau of Industry and Security",),
        tags=("export-controls", "entity-list"),
        guid="https://www.federalregister.gov/documents/2026/11/25/2026-24751/slug",
        link_title_key="lt",
        extras={"counts": {"China": 14, "Singapore": 2}, "pair": (1, 2.5)},
    )
    with Store.open(tmp_path / "d") as s:
        (stored,) = s.add_items([original], now=NOW)
    with Store.open(tmp_path / "d") as s:
        loaded = s.get_item("fr-bis", "2026-24751")
    assert loaded == stored
    assert loaded is not None
    assert loaded.published == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert loaded.published.utcoffset() == timedelta(0)
    assert loaded.extras == {"counts": {"China": 14, "Singapore": 2}, "pair": [1, 2.5]}
    assert loaded.authors == ("Bureau of Industry and Security",)


def test_lone_surrogate_in_feed_text_is_replaced_not_fatal(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d") as s:
        s.add_items([item("x", title="bad \ud800 char")], now=NOW)
    with Store.open(tmp_path / "d") as s:
        loaded = s.get_item("fr-bis", "x")
    assert loaded is not None
    assert loaded.title == "bad \ufffd char"


# ------------------------------------------------------------------ reading


def test_iteration_and_lookup_by_seq(store: Store) -> None:
    store.add_items([item("a"), item("b", feed_id="uscc"), item("c")], now=NOW)
    store.add_items([item("d", feed_id="uscc")], now=NOW)
    assert [i.id for i in store.iter_items(after_seq=1)] == ["b", "c", "d"]
    assert [i.id for i in store.iter_items(feed_ids={"uscc"})] == ["b", "d"]
    assert [i.id for i in store.iter_items(after_seq=2, feed_ids=["fr-bis"])] == ["c"]
    assert list(store.iter_items(feed_ids=[])) == []
    assert [i.id for i in store.get_items_by_seq([4, 99, 1])] == ["d", "a"]
    assert store.get_item("fr-bis", "nope") is None


def test_returned_items_cannot_change_the_stored_ones(store: Store) -> None:
    store.add_items([item("a", extras={"tags": ["x"]})], now=NOW)
    first = store.get_item("fr-bis", "a")
    assert first is not None
    first.extras["tags"].append("mutated")
    again = store.get_item("fr-bis", "a")
    assert again is not None
    assert again.extras == {"tags": ["x"]}


def test_update_item_extras_merges_and_persists(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d") as s:
        s.add_items([item("a", extras={"source": "rss"})], now=NOW)
        s.update_item_extras("fr-bis", "a", {"entity_counts": {"China": 14}})
        s.update_item_extras("fr-bis", "a", {"duplicates": ("uscc/1", "uscc/2")})
    with Store.open(tmp_path / "d") as s:
        loaded = s.get_item("fr-bis", "a")
    assert loaded is not None
    assert loaded.extras == {
        "source": "rss",
        "entity_counts": {"China": 14},
        "duplicates": ["uscc/1", "uscc/2"],
    }


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        pytest.param({"when": NOW}, "extras['when'] is a datetime", id="datetime"),
        pytest.param({"ids": {1, 2}}, "extras['ids'] is a set", id="set"),
        pytest.param({"score": float("nan")}, "extras['score'] is nan", id="nan"),
        pytest.param({"big": 2**70}, "extras['big'] is an integer outside", id="huge-int"),
        pytest.param({"m": {3: "x"}}, "extras['m'] has a key 3", id="int-key"),
        pytest.param({"l": [1, object()]}, "extras['l'][1] is a object", id="nested"),
    ],
)
def test_non_json_extras_are_refused_and_nothing_is_stored(
    store: Store, extras: dict[str, object], message: str
) -> None:
    with pytest.raises(StoreError) as refused:
        store.add_items([item("good"), item("bad", extras=extras)], now=NOW)
    assert "item 'bad' of feed 'fr-bis'" in str(refused.value)
    assert message in str(refused.value)
    assert store.item_count() == 0
    assert store.last_seq == 0
    assert not store.is_known(item("good"))


def test_update_extras_of_unknown_item_names_it(store: Store) -> None:
    with pytest.raises(StoreError, match="no stored item 'ghost' in feed 'fr-bis'"):
        store.update_item_extras("fr-bis", "ghost", {"a": 1})


# ------------------------------------------------------------------ feed state and records


def test_feed_state_round_trip(tmp_path: Path) -> None:
    state = FeedState(
        feed_id="fr-bis",
        last_success=NOW,
        last_error="HTTP 503",
        consecutive_failures=2,
        failing_since=NOW - timedelta(hours=1),
        etag='W/"abc"',
        last_modified="Tue, 25 Nov 2026 08:00:00 GMT",
        next_due=NOW + timedelta(minutes=30),
        first_poll_done=True,
        items_stored=12,
    )
    with Store.open(tmp_path / "d") as s:
        s.put_feed_state(FeedState(feed_id="fr-bis", etag="old"))
        s.put_feed_state(state)
        s.put_feed_state(FeedState(feed_id="uscc"))
    with Store.open(tmp_path / "d") as s:
        assert s.get_feed_state("fr-bis") == state
        assert s.get_feed_state("missing") is None
        assert sorted(s.feed_states()) == ["fr-bis", "uscc"]


def test_records_round_trip(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d") as s:
        s.put_record("subscriptions", "U1:entity-list", {"user": "U1", "topics": ("entity-list",)})
        s.put_record("subscriptions", "U2:chips", {"user": "U2"})
        s.put_record("digest_cursors", "C0123", {"seq": 41})
        s.put_record("digest_cursors", "C0123", {"seq": 57})
        s.delete_record("subscriptions", "U2:chips")
        s.delete_record("subscriptions", "never-there")
    with Store.open(tmp_path / "d") as s:
        assert s.records("subscriptions") == {
            "U1:entity-list": {"user": "U1", "topics": ["entity-list"]}
        }
        assert s.get_record("digest_cursors", "C0123") == {"seq": 57}
        assert s.get_record("digest_cursors", "C9") is None
        assert s.records("alert_queue") == {}


@pytest.mark.parametrize(
    ("table", "key", "value", "message"),
    [
        pytest.param("Subscriptions", "k", {}, "record table name 'Subscriptions'", id="upper"),
        pytest.param("../x", "k", {}, "record table name '../x'", id="path"),
        pytest.param("subs", "", {}, "record key in table 'subs'", id="empty-key"),
        pytest.param("subs", "k", {"at": NOW}, "record 'k' in table 'subs'['at']", id="datetime"),
    ],
)
def test_bad_records_are_refused(
    store: Store, table: str, key: str, value: dict[str, object], message: str
) -> None:
    with pytest.raises(StoreError) as refused:
        store.put_record(table, key, value)
    assert message in str(refused.value)


# ------------------------------------------------------------------ durability and files


def test_seq_keeps_rising_across_reopen(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d") as s:
        s.add_items([item("a"), item("b"), item("c")], now=NOW)
    with Store.open(tmp_path / "d") as s:
        assert s.last_seq == 3
        added = s.add_items([item("d"), item("e")], now=NOW + timedelta(days=40))
    assert [i.seq for i in added] == [4, 5]


def test_nothing_is_durable_before_commit(tmp_path: Path) -> None:
    data = tmp_path / "d"
    s = Store.open(data)
    s.add_items([item("a"), item("b")], now=NOW)
    s.put_feed_state(FeedState(feed_id="fr-bis", etag="1"))
    s.commit()
    s.add_items([item("c")], now=NOW)
    s.put_feed_state(FeedState(feed_id="fr-bis", etag="2"))
    s.close(commit=False)
    with Store.open(data) as s:
        assert [i.id for i in s.iter_items()] == ["a", "b"]
        assert not s.is_known(item("c"))
        state = s.get_feed_state("fr-bis")
        assert state is not None
        assert state.etag == "1"
        assert [i.seq for i in s.add_items([item("c")], now=NOW)] == [3]
    # Leaving the with block normally committed "c".
    with Store.open(data) as s:
        assert s.item_count() == 3


def test_exception_in_with_block_drops_uncommitted_work(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Store.open(tmp_path / "d") as s:
        s.add_items([item("a")], now=NOW)
        raise RuntimeError("poll failed half-way")
    with Store.open(tmp_path / "d") as s:
        assert s.item_count() == 0


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "d")
    s.close()
    s.close()
    with pytest.raises(StoreError, match="is closed"):
        s.add_items([item("a")], now=NOW)


def test_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    old_umask = os.umask(0)  # prove the modes do not depend on the umask
    try:
        with Store.open(data) as s:
            s.add_items([item("a")], now=NOW)
            s.commit()
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


def test_files_are_valid_versioned_tinydb_json(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with Store.open(data) as s:
        s.add_items([item("a", title="Entity List Additions")], now=NOW)
        s.put_feed_state(FeedState(feed_id="fr-bis", etag="e1"))
        assert s.stats()["uncommitted"] is True
        s.commit()
        stats = s.stats()
    names = [p.name for p in data_files(data)]
    assert names == ["items-2026-11.json", "state.json"]
    assert stats["bytes"] == sum(p.stat().st_size for p in data_files(data))
    assert (stats["items"], stats["shards"], stats["uncommitted"]) == (1, 1, False)
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
    with Store.open(data) as s:
        s.add_items(make_batch("n", SHARD_MAX_ITEMS + 5), now=NOW)
    with Store.open(data) as s:
        s.add_items(make_batch("m", 3), now=NOW)
        assert s.stats()["shards"] == 2
    counts = {p.name: len(json.loads(p.read_bytes()).get("items", {})) for p in data_files(data)}
    assert counts == {
        "items-2026-11.json": SHARD_MAX_ITEMS,
        "items-2026-11-p2.json": 8,
        "state.json": 0,
    }


# ------------------------------------------------------------------ pruning


def test_pruned_item_is_still_known_until_its_tombstone_expires(tmp_path: Path) -> None:
    data = tmp_path / "d"
    old = item("old", link_title_key="k-old")
    newer = item("newer")
    with Store.open(data, retention_days=10, seen_retention_days=30) as s:
        s.add_items([old], now=datetime(2025, 12, 28, tzinfo=UTC))
        s.add_items([newer], now=datetime(2026, 1, 5, tzinfo=UTC))
        assert s.prune(datetime(2026, 1, 10, tzinfo=UTC)) == 1
        assert s.item_count() == 1
        assert s.get_item("fr-bis", "old") is None
    # The emptied December shard is gone; its ids live on in seen-2025-12.json.
    assert [p.name for p in data_files(data)] == [
        "items-2026-01.json",
        "seen-2025-12.json",
        "state.json",
    ]
    # Tombstones are written like item shards: one per line, seq and keys first.
    seen_lines = (data / "seen-2025-12.json").read_bytes().split(b"\n")
    assert len(seen_lines) == 3
    assert seen_lines[1].startswith(b'"1":{"seq":1,"dedup_keys":["fr-bis\\u001fid\\u001fold",')
    with Store.open(data, retention_days=10, seen_retention_days=30) as s:
        assert s.stats()["uncommitted"] is False  # read line by line, nothing to convert
        assert s.is_known(old)
        assert s.is_known(item("old-with-new-guid", link_title_key="k-old"))
        assert s.add_items([old], now=datetime(2026, 1, 12, tzinfo=UTC)) == []
        assert s.stats()["tombstones"] == 1
        # Dec 28 + 30 days = Jan 27: one day before, still known; one after, forgotten.
        s.prune(datetime(2026, 1, 26, tzinfo=UTC))
        assert s.is_known(old)
        assert s.is_known(newer)  # pruned now too, tombstoned
        assert s.item_count() == 0
        s.prune(datetime(2026, 1, 28, tzinfo=UTC))
        assert not s.is_known(old)
        assert s.is_known(newer)
    assert [p.name for p in data_files(data)] == ["seen-2026-01.json", "state.json"]
    with Store.open(data, retention_days=10, seen_retention_days=30) as s:
        assert not s.is_known(old)
        (again,) = s.add_items([old], now=datetime(2026, 1, 28, tzinfo=UTC))
    assert again.seq == 3


def test_failed_tombstone_write_loses_no_tombstone(tmp_path: Path) -> None:
    data = tmp_path / "d"
    olds = [item(f"old-{n}") for n in range(3)]
    with Store.open(data, retention_days=10, seen_retention_days=30) as s:
        s.add_items(olds, now=datetime(2026, 1, 2, tzinfo=UTC))
        s.add_items([item("new")], now=datetime(2026, 1, 20, tzinfo=UTC))
        # A directory where the temp file must go: the tombstone write fails.
        blocker = data / ".seen-2026-01.json.tmp"
        blocker.mkdir()
        with pytest.raises(StoreError) as failed:
            s.prune(datetime(2026, 1, 20, tzinfo=UTC))
        assert "seen-2026-01.json" in str(failed.value)
        assert s.item_count() == 4, "no item is removed before its tombstone is on disk"
        blocker.rmdir()
        assert s.prune(datetime(2026, 1, 20, tzinfo=UTC)) == 3
    with Store.open(data, retention_days=10, seen_retention_days=30) as s:
        assert [s.is_known(i) for i in olds] == [True, True, True]
        assert s.add_items(olds, now=datetime(2026, 1, 21, tzinfo=UTC)) == []


def test_tombstone_expires_on_the_day_of_the_cutoff(tmp_path: Path) -> None:
    data = tmp_path / "d"
    old = item("old")
    with Store.open(data, retention_days=1, seen_retention_days=31) as s:
        s.add_items([old], now=datetime(2026, 1, 1, 6, tzinfo=UTC))
        s.prune(datetime(2026, 1, 10, tzinfo=UTC))
        assert s.is_known(old)
        # Cutoff Feb 1 12:00 - 31 days = Jan 1 12:00: after 06:00, so it expires.
        s.prune(datetime(2026, 2, 1, 12, tzinfo=UTC))
        assert not s.is_known(old)


def test_item_with_a_lone_surrogate_in_its_id_is_known_once_stored(tmp_path: Path) -> None:
    odd = item("id-\ud800-x", link_title_key="lt-\udfff")
    with Store.open(tmp_path / "d") as s:
        assert len(s.add_items([odd], now=NOW)) == 1
        assert s.is_known(odd)
        assert s.add_items([odd], now=NOW) == []
    with Store.open(tmp_path / "d") as s:
        assert s.is_known(odd)
        assert s.get_item("fr-bis", "id-\ud800-x") is not None


def test_crash_mid_prune_leaves_a_store_that_opens_and_finishes_the_prune(tmp_path: Path) -> None:
    data = tmp_path / "d"
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    with Store.open(data, retention_days=10) as s:
        s.add_items([item("a"), item("b")], now=t0)
    shard = (data / "items-2026-10.json").read_bytes()
    with Store.open(data, retention_days=10) as s:
        assert s.prune(t0 + timedelta(days=11)) == 2
    # A crash after the tombstones were written and before the items were
    # removed leaves both on disk: put the old shard back.
    (data / "items-2026-10.json").write_bytes(shard)
    with Store.open(data, retention_days=10) as s:
        assert (s.item_count(), s.stats()["tombstones"]) == (2, 2)
        assert s.add_items([item("a")], now=t0 + timedelta(days=12)) == []
        assert s.prune(t0 + timedelta(days=12)) == 2
        assert (s.item_count(), s.stats()["tombstones"], s.last_seq) == (0, 2, 2)
    assert [p.name for p in data_files(data)] == ["seen-2026-10.json", "state.json"]


def test_seq_never_goes_back_after_everything_expired(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with Store.open(data, retention_days=1, seen_retention_days=1) as s:
        s.add_items([item("a"), item("b"), item("c")], now=NOW)
        assert s.prune(NOW + timedelta(days=5)) == 3
        assert s.stats()["tombstones"] == 0
    assert [p.name for p in data_files(data)] == ["state.json"]
    with Store.open(data, retention_days=1, seen_retention_days=1) as s:
        assert s.item_count() == 0
        assert [i.seq for i in s.add_items([item("d")], now=NOW + timedelta(days=5))] == [4]


def test_seen_retention_shorter_than_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"seen_retention_days \(5\) must be at least"):
        Store.open(tmp_path / "d", retention_days=10, seen_retention_days=5)


# ------------------------------------------------------------------ versions


def test_unversioned_v0_files_are_migrated(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    # The layout before versioning: no _meta table, items without dedup_keys.
    v0_item = {
        "id": "2026-11111",
        "feed_id": "fr-bis",
        "title": "Revisions to the Entity List",
        "link_title_key": "lt-rev",
        "first_seen": "2026-11-02T10:00:00+00:00",
        "backlog": False,
    }
    (data / "items-2026-11.json").write_text(json.dumps({"items": {"7": v0_item}}))
    v0_state = {"feeds": {"1": {"key": "fr-bis", "value": {"feed_id": "fr-bis", "etag": "v0"}}}}
    (data / "state.json").write_text(json.dumps(v0_state))

    with Store.open(data) as s:
        loaded = s.get_item("fr-bis", "2026-11111")
        assert loaded is not None
        assert (loaded.seq, loaded.title) == (7, "Revisions to the Entity List")
        assert s.is_known(item("new-guid", link_title_key="lt-rev"))
        state = s.get_feed_state("fr-bis")
        assert state is not None
        assert state.etag == "v0"
        assert [i.seq for i in s.add_items([item("next")], now=NOW)] == [8]
    for path in data_files(data):
        assert json.loads(path.read_bytes())["_meta"]["1"]["schema"] == SCHEMA_VERSION
    items = json.loads((data / "items-2026-11.json").read_bytes())["items"]
    assert items["7"]["dedup_keys"] == list(item("2026-11111", link_title_key="lt-rev").dedup_keys)


def test_shards_hold_one_item_per_line_and_tinydb_files_are_converted(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir(mode=0o700)
    # A shard as stock TinyDB writes it (one line, its own key order): the
    # store reads it whole and rewrites it in its line layout on commit.
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
    with Store.open(data) as s:
        assert s.is_known(item("gone"))
        assert s.get_item("fr-bis", "t1").title == "Written by TinyDB"  # type: ignore[union-attr]
        assert s.stats()["uncommitted"] is True
        s.add_items([item("a\nb", title='Line\nbreak "quoted" \\ back-slash')], now=NOW)
    lines = (data / "items-2026-11.json").read_bytes().split(b"\n")
    # A head line, one line per item (newlines in text escaped), a closing line.
    assert len(lines) == 4
    assert lines[1].startswith(b'"1":{"seq":1,"dedup_keys":[')
    assert lines[2].startswith(b'"8":{"seq":8,"dedup_keys":[')  # after the tombstone's 7
    with TinyDB(data / "items-2026-11.json", access_mode="r") as db:
        assert db.table("items").get(doc_id=8)["id"] == "a\nb"
    assert (
        (data / "seen-2026-10.json")
        .read_bytes()
        .split(b"\n")[1]
        .startswith(b'"7":{"seq":7,"dedup_keys":[')
    )
    with Store.open(data) as s:
        assert s.stats()["uncommitted"] is False  # read line by line, nothing to convert
        assert s.is_known(item("gone"))
        again = s.get_item("fr-bis", "a\nb")
        assert again is not None
        assert again.title == 'Line\nbreak "quoted" \\ back-slash'
        assert s.is_known(item("a\nb"))


def test_hand_edited_shards_are_read_whole_and_damage_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with Store.open(data) as s:
        s.add_items([item("ok"), item("edited")], now=NOW)
    path = data / "items-2026-11.json"
    original = path.read_bytes()
    # Still valid JSON, lines changed: the checksum in _meta sends it down the
    # slow path, which reads the edit and rewrites the file.
    path.write_bytes(original.replace(b'"Title of edited"', b'"Title, edited by hand"'))
    with Store.open(data) as s:
        assert s.get_item("fr-bis", "edited").title == "Title, edited by hand"  # type: ignore[union-attr]
        assert s.stats()["uncommitted"] is True
    with Store.open(data) as s:
        assert s.stats()["uncommitted"] is False
    # Cut inside a document: refused at open, naming the file.
    path.write_bytes(path.read_bytes().replace(b'"title":"Title of ok"', b'"title":"Title o'))
    with pytest.raises(StoreError) as damaged:
        Store.open(data)
    assert f"{path} is not valid JSON" in str(damaged.value)


FUTURE = {"_meta": {"1": {"schema": 99, "kind": "state"}}}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "state.json",
            json.dumps(FUTURE),
            "state.json has schema version 99, but this briefbot understands at most version 1;"
            " upgrade briefbot",
            id="future-version",
        ),
        pytest.param(
            "items-2026-11.json",
            '{"items": {"1": {"id": "a", "feed_',
            "items-2026-11.json is not valid JSON",
            id="cut-off-file",
        ),
        pytest.param("state.json", "[1, 2]", "state.json is not a TinyDB file", id="not-tables"),
        pytest.param(
            "items-2026-11.json",
            json.dumps({"_meta": {"1": {"schema": 1, "kind": "state"}}}),
            "items-2026-11.json holds 'state' data where 'items' data was expected",
            id="wrong-kind",
        ),
        pytest.param(
            "items-2026-11.json",
            json.dumps({"_meta": {"1": {"schema": 1, "kind": "items"}}, "items": {"1": {}}}),
            "items-2026-11.json: document '1' is damaged",
            id="damaged-doc",
        ),
        pytest.param(
            "items-2026-11.json",
            json.dumps(
                {
                    "_meta": {"1": {"schema": 1, "kind": "items"}},
                    "items": {"1": {"id": "a", "feed_id": "f", "dedup_keys": [7]}},
                }
            ),
            "items-2026-11.json: document '1' is damaged",
            id="key-not-a-string",
        ),
    ],
)
def test_unreadable_files_are_refused_clearly(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / name).write_text(content)
    with pytest.raises(StoreError) as refused:
        Store.open(data)
    assert message in str(refused.value)
    assert str(data / name) in str(refused.value)
    # The refused open released the directory: fixing the file is enough.
    (data / name).unlink()
    with Store.open(data) as s:
        assert s.item_count() == 0


# ------------------------------------------------------------------ one process at a time


def test_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = start_worker("hold", str(data), stdin=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == f"ready {holder.pid}\n"
        with pytest.raises(StoreLockedError) as refused:
            Store.open(data)
        assert str(refused.value).startswith(
            f"data directory {data} is in use by process {holder.pid} (started "
        )
        assert f"UTC on host {socket.gethostname()}); stop it or use another BRIEFBOT_DATA" in str(
            refused.value
        )
        holder.stdin.write("close\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "closed\n"
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
    with Store.open(data) as s:
        owner = json.loads((data / "owner.json").read_bytes())
        assert owner["pid"] == os.getpid()
        assert s.item_count() == 0
    assert not (data / "owner.json").exists()


def test_lock_of_a_killed_holder_is_free(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = start_worker("hold", str(data), stdin=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline().startswith("ready")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with Store.open(data) as s:
        assert json.loads((data / "owner.json").read_bytes())["pid"] == os.getpid()
        assert s.item_count() == 0


def test_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with (
        Store.open(tmp_path / "d"),
        pytest.raises(StoreLockedError, match=f"in use by process {os.getpid()} "),
    ):
        Store.open(tmp_path / "d")
    with Store.open(tmp_path / "d") as s:
        assert s.item_count() == 0


# ------------------------------------------------------------------ threads


def test_threads_adding_and_reading_at_once(tmp_path: Path) -> None:
    ids = [f"id-{n}" for n in range(600)]
    errors: list[BaseException] = []
    stored: list[Item] = []
    stored_lock = threading.Lock()

    with Store.open(tmp_path / "d") as s:

        def writer(offset: int) -> None:
            try:
                # Overlapping slices: most ids are offered by several threads.
                mine = [item(ids[(offset + k) % len(ids)]) for k in range(250)]
                for start in range(0, len(mine), 25):
                    added = s.add_items(mine[start : start + 25], now=NOW)
                    with stored_lock:
                        stored.extend(added)
                    if start % 100 == 0:
                        s.commit()
            except BaseException as exc:
                errors.append(exc)

        def reader() -> None:
            try:
                for _ in range(40):
                    seqs = [i.seq for i in s.iter_items()]
                    assert seqs == sorted(set(seqs))
                    assert s.item_count() <= len(ids)
                    s.is_known(item("id-5"))
                    s.get_item("fr-bis", "id-7")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n * 70,)) for n in range(6)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        offered = {ids[(n * 70 + k) % len(ids)] for n in range(6) for k in range(250)}
        assert sorted(i.id for i in stored) == sorted(offered)
        assert sorted(i.seq for i in stored) == list(range(1, len(offered) + 1))
        assert s.item_count() == len(offered)
    with Store.open(tmp_path / "d") as s:
        assert sorted(i.id for i in s.iter_items()) == sorted(offered)


# ------------------------------------------------------------------ crashes (real processes)


def committed_lines(out: str) -> list[tuple[int, int, int]]:
    lines = [line.split() for line in out.splitlines(keepends=True) if line.endswith("\n")]
    return [(int(p[1]), int(p[2]), int(p[3])) for p in lines if p and p[0] == "committed"]


# BRIEFBOT_STORE_CRASH_TRIALS=50 for a longer hunt; each trial takes ~0.5 s.
CRASH_TRIALS = int(os.environ.get("BRIEFBOT_STORE_CRASH_TRIALS", "5"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, CRASH_TRIALS + 1), ids=lambda s: f"seed-{s}")
def test_kill_9_loses_no_committed_item(tmp_path: Path, seed: int) -> None:
    data = tmp_path / "data"
    worker = start_worker("loop", str(data), str(seed))
    assert worker.stdout is not None
    first = worker.stdout.readline()
    assert first.startswith("committed"), first + (worker.stderr.read() if worker.stderr else "")
    # Different random delays land the kill in different phases of a commit.
    time.sleep(random.Random(seed).uniform(0.01, 0.6))
    worker.send_signal(signal.SIGKILL)
    rest, _ = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    last_seq, count, last_round = committed_lines(first + rest)[-1]

    with Store.open(data) as s:
        items = list(s.iter_items())
        assert [i.seq for i in items] == list(range(1, len(items) + 1))
        assert s.last_seq == len(items) >= last_seq
        assert s.item_count() >= count
        stored_ids = {i.id for i in items}
        assert len(stored_ids) == len(items)
        # Every item of every reported round is there: rounds 0..last_round
        # hold exactly `count` distinct ids.
        reported = {i.id for i in items if int(i.id[1:].split("-")[0]) <= last_round}
        assert len(reported) == count
        (next_item,) = s.add_items([item("after-restart")], now=NOW)
        assert next_item.seq == len(items) + 1
    assert not list(data.glob(".*.tmp")), "a crash leftover temp file survived reopening"


@pytest.mark.slow
def test_crash_between_shards_and_state_loses_no_item(tmp_path: Path) -> None:
    data = tmp_path / "data"
    worker = start_worker("crash-between", str(data))
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == CRASH_EXIT, out + err
    assert committed_lines(out) == [(50, 50, 0)]

    with Store.open(data) as s:
        # Batch B's items reached disk, its feed state and cursor did not:
        # the ETag is still A's, so the next poll refetches B...
        assert s.item_count() == 120
        assert s.last_seq == 120
        state = s.get_feed_state("fr-bis")
        assert state is not None
        assert state.etag == '"A"'
        assert s.get_record("cursors", "digest") == {"seq": 50}
        # ...and dedup drops what it brings again; seq continues past B.
        assert s.add_items(make_batch("b", 70), now=NOW) == []
        (fresh,) = s.add_items([item("c-0")], now=NOW)
        assert fresh.seq == 121
        assert [i.id for i in s.iter_items(after_seq=50)][:2] == ["b-0", "b-1"]
