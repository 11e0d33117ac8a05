"""TinyStore's repositories on real files: items, feed states and typed records, read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.models import Alert, FeedState, Item, SlackMessage, Subscription
from bot.store.ports import DeliveryProblem, DigestPost, DigestState, OpsNotice, StoreError
from bot.store.records.values import subscription_to_json
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import NOW, add, item


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    with TinyStore.open(tmp_path / "data") as s:
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
def test_dedup_by_id_and_link_title_key(store: TinyStore, candidate: Item, known: bool) -> None:
    add(store, [STORED])
    assert store.items.is_known(candidate) is known
    added = add(store, [candidate])
    assert [i.id for i in added] == ([] if known else [candidate.id])
    assert store.items.count() == (1 if known else 2)


def test_duplicates_within_one_batch_are_stored_once(store: TinyStore) -> None:
    batch = [
        item("a", title="first", link_title_key="k-a"),
        item("a", title="second copy of a"),
        item("b", link_title_key="k-a"),  # a new GUID for a
        item("c"),
    ]
    added = add(store, batch)
    assert [(i.id, i.title, i.seq) for i in added] == [("a", "first", 1), ("c", "Title of c", 2)]
    assert [i.id for i in store.items.after()] == ["a", "c"]


def test_a_transaction_dedups_against_its_own_uncommitted_items(store: TinyStore) -> None:
    with store.transaction() as tx:
        (first,) = tx.items.add([item("a", link_title_key="k-a")], now=NOW)
        assert tx.items.is_known(item("a-new-guid", link_title_key="k-a"))
        assert tx.items.add([item("a"), item("b", link_title_key="k-a")], now=NOW) == []
        assert tx.items.get("fr-bis", "a") == first
        assert (tx.items.count(), tx.items.last_seq) == (1, 1)
    assert [i.id for i in store.items.after()] == ["a"]


def test_stored_copy_gets_seq_first_seen_and_backlog(store: TinyStore) -> None:
    later = NOW + timedelta(hours=1)
    first = add(store, [item("old-1"), item("old-2")], backlog=True)
    second = add(store, [item("new-1")], now=later)
    assert [(i.seq, i.first_seen, i.backlog) for i in first + second] == [
        (1, NOW, True),
        (2, NOW, True),
        (3, later, False),
    ]
    assert store.items.get("fr-bis", "old-2") == first[1]
    assert store.items.last_seq == 3


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
    with TinyStore.open(tmp_path / "d") as s:
        (stored,) = add(s, [original])
    with TinyStore.open(tmp_path / "d") as s:
        loaded = s.items.get("fr-bis", "2026-24751")
    assert loaded == stored
    assert loaded is not None
    assert loaded.published == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert loaded.published.utcoffset() == timedelta(0)
    assert loaded.extras == {"counts": {"China": 14, "Singapore": 2}, "pair": [1, 2.5]}
    assert loaded.authors == ("Bureau of Industry and Security",)


def test_lone_surrogate_in_feed_text_is_replaced_not_fatal(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as s:
        add(s, [item("x", title="bad \ud800 char")])
    with TinyStore.open(tmp_path / "d") as s:
        loaded = s.items.get("fr-bis", "x")
    assert loaded is not None
    assert loaded.title == "bad \ufffd char"


def test_item_with_a_lone_surrogate_in_its_id_is_known_once_stored(tmp_path: Path) -> None:
    odd = item("id-\ud800-x", link_title_key="lt-\udfff")
    with TinyStore.open(tmp_path / "d") as s:
        assert len(add(s, [odd])) == 1
        assert s.items.is_known(odd)
        assert add(s, [odd]) == []
    with TinyStore.open(tmp_path / "d") as s:
        assert s.items.is_known(odd)
        assert s.items.get("fr-bis", "id-\ud800-x") is not None


# ------------------------------------------------------------------ reading


def test_iteration_and_lookup_by_seq(store: TinyStore) -> None:
    add(store, [item("a"), item("b", feed_id="uscc"), item("c")])
    add(store, [item("d", feed_id="uscc")])
    assert [i.id for i in store.items.after(1)] == ["b", "c", "d"]
    assert [i.id for i in store.items.after(feed_ids={"uscc"})] == ["b", "d"]
    assert [i.id for i in store.items.after(2, feed_ids=["fr-bis"])] == ["c"]
    assert list(store.items.after(feed_ids=[])) == []
    assert [i.id for i in store.items.by_seq([4, 99, 1])] == ["d", "a"]
    assert store.items.get("fr-bis", "nope") is None


def test_returned_items_cannot_change_the_stored_ones(store: TinyStore) -> None:
    (returned,) = add(store, [item("a", extras={"tags": ["x"]})])
    returned.extras["tags"].append("from the add")
    first = store.items.get("fr-bis", "a")
    assert first is not None
    first.extras["tags"].append("mutated")
    again = store.items.get("fr-bis", "a")
    assert again is not None
    assert again.extras == {"tags": ["x"]}


def test_update_extras_merges_and_persists(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as s:
        with s.transaction() as tx:
            tx.items.add([item("a", extras={"source": "rss"})], now=NOW)
            # An item of this very transaction...
            tx.items.update_extras("fr-bis", "a", {"entity_counts": {"China": 14}})
        with s.transaction() as tx:
            # ...and a committed one.
            tx.items.update_extras("fr-bis", "a", {"duplicates": ("uscc/1", "uscc/2")})
            seen_by_tx = tx.items.get("fr-bis", "a")
            seen_by_store = s.items.get("fr-bis", "a")
        assert seen_by_tx is not None and seen_by_store is not None
        assert "duplicates" in seen_by_tx.extras
        assert "duplicates" not in seen_by_store.extras, "visible before the commit"
    with TinyStore.open(tmp_path / "d") as s:
        loaded = s.items.get("fr-bis", "a")
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
    store: TinyStore, extras: dict[str, object], message: str
) -> None:
    with pytest.raises(StoreError) as refused, store.transaction() as tx:
        try:
            tx.items.add([item("good"), item("bad", extras=extras)], now=NOW)
        finally:
            # Nothing of the refused call is staged, not even the good item.
            assert (tx.items.count(), tx.items.last_seq) == (0, 0)
            assert not tx.items.is_known(item("good"))
    assert "item 'bad' of feed 'fr-bis'" in str(refused.value)
    assert message in str(refused.value)
    assert store.items.count() == 0
    assert store.items.last_seq == 0
    assert not store.items.is_known(item("good"))


def test_update_extras_of_unknown_item_names_it(store: TinyStore) -> None:
    with (
        pytest.raises(StoreError, match="no stored item 'ghost' in feed 'fr-bis'"),
        store.transaction() as tx,
    ):
        tx.items.update_extras("fr-bis", "ghost", {"a": 1})


def test_non_json_extras_update_is_refused_naming_the_item(store: TinyStore) -> None:
    add(store, [item("a", extras={"kept": 1})])
    with (
        pytest.raises(StoreError, match=r"extras for item 'a' of feed 'fr-bis'\['when'\] is a"),
        store.transaction() as tx,
    ):
        tx.items.update_extras("fr-bis", "a", {"when": NOW})
    loaded = store.items.get("fr-bis", "a")
    assert loaded is not None and loaded.extras == {"kept": 1}


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
    with TinyStore.open(tmp_path / "d") as s, s.transaction() as tx:
        tx.feed_states.put(FeedState(feed_id="fr-bis", etag="old"))
        tx.feed_states.put(state)
        tx.feed_states.put(FeedState(feed_id="uscc"))
        assert tx.feed_states.get("fr-bis") == state
        assert s.feed_states.get("fr-bis") is None, "visible before the commit"
    with TinyStore.open(tmp_path / "d") as s:
        assert s.feed_states.get("fr-bis") == state
        assert s.feed_states.get("missing") is None
        assert sorted(s.feed_states.all()) == ["fr-bis", "uscc"]


def subscription(sub_id: str, owner: str, **fields: Any) -> Subscription:
    return Subscription(
        id=sub_id, owner=owner, created_by=owner, created_at=NOW, topic="entity-list", **fields
    )


def digest(channel: str, seq: int, blocks: tuple[dict[str, Any], ...] = ()) -> DigestState:
    post = DigestPost(
        key=f"digest:{channel}:1",
        since_ts=1764059400.0,
        seq=seq,
        scheduled_for=NOW,
        items=3,
        parts=1,
        messages=(SlackMessage(text="Morning brief", blocks=blocks),),
    )
    return DigestState(channel=channel, seq=seq, last_sent=NOW, inflight=post)


def test_typed_records_round_trip(tmp_path: Path) -> None:
    kept = subscription("s-1", "U1", query="semiconductor export")
    alert = Alert(owner="U1", item_seq=7, subscription_ids=("s-1",), created_at=NOW, due_at=NOW)
    with TinyStore.open(tmp_path / "d") as s:
        with s.transaction() as tx:
            tx.subscriptions.put(kept)
            tx.subscriptions.put(subscription("s-2", "U2"))
            tx.digests.put(digest("C0123", 41))
            tx.digests.put(digest("C0123", 57))
            tx.alerts.enqueue([alert])
            tx.ops_notices.put(OpsNotice(feed_id="uscc", failing_since=NOW))
            tx.delivery_problems.record(DeliveryProblem("C9", "channel_not_found", NOW))
        with s.transaction() as tx:
            assert tx.subscriptions.delete("s-2") is True
            assert tx.subscriptions.delete("never-there") is False
    with TinyStore.open(tmp_path / "d") as s:
        assert s.subscriptions.list() == [kept]
        assert s.subscriptions.ids() == {"s-1"}
        assert s.digests.get("C0123") == digest("C0123", 57)
        assert s.digests.get("C9") is None
        assert s.alerts.queued() == [alert]
        assert s.ops_notices.all() == {"uscc": OpsNotice(feed_id="uscc", failing_since=NOW)}
        assert s.delivery_problems.all() == {"C9": DeliveryProblem("C9", "channel_not_found", NOW)}
        assert s.alert_deliveries.all() == []
    # On disk the records keep the JSON of earlier releases.
    state = json.loads((tmp_path / "d" / "state.json").read_bytes())
    assert [doc["value"] for doc in state["rec_subscriptions"].values()] == [
        subscription_to_json(kept)
    ]


@pytest.mark.parametrize(
    ("put", "message"),
    [
        pytest.param(
            lambda tx: tx.subscriptions.put(subscription("", "U1")),
            "a key in rec_subscriptions must be a non-empty text, not ''",
            id="empty-key",
        ),
        pytest.param(
            lambda tx: tx.digests.put(digest("C1", 3, blocks=({"type": "x", "at": NOW},))),
            "rec_digests record 'C1'['inflight']['messages'][0]['blocks'][0]['at'] is a datetime",
            id="datetime",
        ),
        pytest.param(
            lambda tx: tx.feed_states.put(FeedState(feed_id="f", last_status=2**70)),
            "state of feed 'f'['last_status'] is an integer outside the 64-bit range",
            id="huge-int",
        ),
    ],
)
def test_bad_records_are_refused_naming_the_value(store: TinyStore, put: Any, message: str) -> None:
    with pytest.raises(StoreError) as refused, store.transaction() as tx:
        put(tx)
    assert message in str(refused.value)
    assert store.subscriptions.ids() == set()
    assert store.digests.get("C1") is None
    assert store.feed_states.all() == {}


def test_lone_surrogates_in_record_values_are_replaced(tmp_path: Path) -> None:
    odd = subscription("s-1", "U1", query="chips \ud800 export")
    with TinyStore.open(tmp_path / "d") as s, s.transaction() as tx:
        tx.subscriptions.put(odd)
        tx.feed_states.put(FeedState(feed_id="fr-bis", last_error="bad \udfff byte"))
    with TinyStore.open(tmp_path / "d") as s:
        found = s.subscriptions.get("s-1")
        state = s.feed_states.get("fr-bis")
    assert found is not None and found.query == "chips \ufffd export"
    assert state is not None and state.last_error == "bad \ufffd byte"


def test_record_key_with_a_lone_surrogate_is_found_again(tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as s:
        with s.transaction() as tx:
            tx.items.add([item("a")], now=NOW)
            tx.feed_states.put(FeedState(feed_id="feed-\ud800", etag="e1"))
        assert s.feed_states.get("feed-\ud800") is not None
    with TinyStore.open(tmp_path / "d") as s:
        state = s.feed_states.get("feed-\ud800")
        assert state is not None and state.etag == "e1"


def test_seen_retention_shorter_than_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"seen_retention_days \(5\) must be at least"):
        TinyStore.open(tmp_path / "d", retention_days=10, seen_retention_days=5)
    with pytest.raises(ValueError, match=r"seen_retention_days \(5\) must be at least"):
        TinyStore.open(tmp_path / "d", retention_days=10, seen_retention_days=5, read_only=True)
    assert not (tmp_path / "d").exists()
