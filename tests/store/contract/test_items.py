"""The item repository's contract: dedup, seqs, reads in seq order and newest first, extras."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Item, dedup_key
from bot.store.ports import Store, StoreError
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def item(item_id: str, feed_id: str = "fr-bis", **fields: object) -> Item:
    values: dict[str, object] = {"title": f"Title of {item_id}"}
    values.update(fields)
    return Item(id=item_id, feed_id=feed_id, **values)  # type: ignore[arg-type]


def add(
    store: Store, items: list[Item], *, now: datetime = NOW, backlog: bool = False
) -> list[Item]:
    with store.transaction() as tx:
        return tx.items.add(items, now=now, backlog=backlog)


def test_an_empty_store(store: Store) -> None:
    assert (store.items.count(), store.items.last_seq) == (0, 0)
    assert list(store.items.after()) == []
    assert list(store.items.newest_first(10)) == []
    assert store.items.first_seq_since(NOW) is None


def test_stored_copies_get_rising_seqs_first_seen_and_backlog(store: Store) -> None:
    first = add(store, [item("a"), item("b")], backlog=True)
    second = add(store, [item("c")], now=NOW + timedelta(hours=1))
    assert [(i.id, i.seq, i.first_seen, i.backlog) for i in first + second] == [
        ("a", 1, NOW, True),
        ("b", 2, NOW, True),
        ("c", 3, NOW + timedelta(hours=1), False),
    ]
    assert store.items.get("fr-bis", "b") == first[1]
    assert store.items.last_seq == 3
    assert store.items.count() == 3


@pytest.mark.parametrize(
    ("candidate", "known"),
    [
        pytest.param(item("x1", title="Retitled"), True, id="same-id"),
        pytest.param(item("other-guid", link_title_key="lt-x1"), True, id="same-link-title"),
        pytest.param(item("x1", feed_id="other-feed"), False, id="same-id-other-feed"),
        pytest.param(item("x2", link_title_key="lt-x2"), False, id="new"),
    ],
)
def test_dedup_by_id_and_link_title_key(store: Store, candidate: Item, known: bool) -> None:
    add(store, [item("x1", link_title_key="lt-x1")])
    assert store.items.is_known(candidate) is known
    assert [i.id for i in add(store, [candidate])] == ([] if known else [candidate.id])


def test_repeats_inside_one_batch_are_stored_once(store: Store) -> None:
    added = add(
        store,
        [
            item("a", link_title_key="k-a"),
            item("a", title="second copy"),
            item("b", link_title_key="k-a"),
            item("c"),
        ],
    )
    assert [(i.id, i.seq) for i in added] == [("a", 1), ("c", 2)]


def test_reads_by_seq_after_a_seq_and_newest_first(store: Store) -> None:
    add(store, [item(f"a{n}") for n in range(5)])
    add(store, [item(f"n{n}", feed_id="news") for n in range(3)])
    assert [i.id for i in store.items.by_seq([7, 2, 99, 4])] == ["n1", "a1", "a3"]
    assert [i.seq for i in store.items.after(5)] == [6, 7, 8]
    assert [i.id for i in store.items.after(0, feed_ids={"news"})] == ["n0", "n1", "n2"]
    assert [i.seq for i in store.items.newest_first(3)] == [8, 7, 6]
    assert len(list(store.items.newest_first(100))) == 8


def test_newest_with_an_extra_are_those_of_the_newest_that_hold_it(store: Store) -> None:
    listed = {"entity_list": {"added": 3}}
    add(store, [item("old-rule", extras=listed)])  # seq 1: not among the newest 4
    add(
        store,
        [
            item("rule", extras=listed),
            item("quoted", title='a title saying "entity_list": {"added": 1}'),
            item("tagged", tags=("entity_list",), extras={"other": "entity_list"}),
            item("plain"),
        ],
    )
    assert [i.id for i in store.items.newest_with_extra("entity_list", 4)] == ["rule"]
    assert [i.id for i in store.items.newest_with_extra("entity_list", 5)] == ["rule", "old-rule"]
    assert [i.extras for i in store.items.newest_with_extra("entity_list", 5)] == [listed] * 2
    assert list(store.items.newest_with_extra("nothing", 10)) == []
    with store.transaction() as tx:  # items staged in the transaction count too
        tx.items.add([item("new-rule", extras=listed)], now=NOW)
        assert [i.id for i in tx.items.newest_with_extra("entity_list", 2)] == ["new-rule"]


def test_first_seq_since_finds_the_newest_run(store: Store) -> None:
    add(store, [item("old")], now=NOW - timedelta(days=3))
    add(store, [item("y1"), item("y2")], now=NOW - timedelta(hours=20))
    add(store, [item("today")], now=NOW)
    assert store.items.first_seq_since(NOW - timedelta(days=1)) == 2
    assert store.items.first_seq_since(NOW + timedelta(hours=1)) is None


def test_first_seq_since_at_every_boundary_of_many_polls(store: Store) -> None:
    # 30 polls an hour apart, 3 items each: seqs 1-3 at NOW-29h ... 88-90 at NOW.
    for poll in range(30):
        batch = [item(f"p{poll}-{n}") for n in range(3)]
        add(store, batch, now=NOW - timedelta(hours=29 - poll))
    for poll in range(30):
        since = NOW - timedelta(hours=29 - poll)
        assert store.items.first_seq_since(since) == 3 * poll + 1
        assert store.items.first_seq_since(since - timedelta(minutes=30)) == 3 * poll + 1
    assert store.items.first_seq_since(NOW - timedelta(days=2)) == 1
    assert store.items.first_seq_since(NOW + timedelta(minutes=1)) is None
    with store.transaction() as tx:  # a transaction's own new items are the newest
        tx.items.add([item("staged")], now=NOW + timedelta(hours=1))
        assert tx.items.first_seq_since(NOW + timedelta(minutes=1)) == 91
        assert tx.items.first_seq_since(NOW) == 88


def test_extras_merge_and_survive_a_restart(stores: Stores) -> None:
    store = stores.open()
    [stored] = add(store, [item("a", extras={"entity_list": {"entities": 2}})])
    with store.transaction() as tx:
        tx.items.update_extras("fr-bis", "a", {"duplicate_of": 9, "also_in": [3, 4]})
    reopened = stores.reopen(store)
    found = reopened.items.get("fr-bis", "a")
    assert found is not None
    assert found.extras == {"entity_list": {"entities": 2}, "duplicate_of": 9, "also_in": [3, 4]}
    assert found.seq == stored.seq


def test_updating_the_extras_of_an_unknown_item_is_an_error(store: Store) -> None:
    with (
        pytest.raises(StoreError, match="no stored item 'ghost' in feed 'fr-bis'"),
        store.transaction() as tx,
    ):
        tx.items.update_extras("fr-bis", "ghost", {"x": 1})


def test_a_value_the_store_cannot_keep_stores_nothing_of_the_call(store: Store) -> None:
    bad = item("bad", extras={"when": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(StoreError, match="extras"):
        add(store, [item("fine"), bad])
    assert store.items.count() == 0
    assert not store.items.is_known(item("fine"))


def test_text_with_lone_surrogates_is_kept_and_found_again(stores: Stores) -> None:
    store = stores.open()
    odd = item("odd\ud800id", title="broken \udfff title")
    add(store, [odd])
    reopened = stores.reopen(store)
    assert reopened.items.is_known(odd)
    [found] = list(reopened.items.after())
    assert found.title == "broken \ufffd title"


def test_items_survive_a_restart_and_seqs_continue(stores: Stores) -> None:
    store = stores.open()
    add(store, [item("a"), item("b")])
    reopened = stores.reopen(store)
    assert [i.id for i in reopened.items.after()] == ["a", "b"]
    assert [i.seq for i in add(reopened, [item("c")])] == [3]


# --- former keys: the identity an earlier release gave an entry ----------------------


def former(item_id: str, feed_id: str = "fr-bis") -> tuple[str, ...]:
    return (dedup_key(feed_id, "id", item_id),)


def test_former_keys_are_looked_up_but_not_stored(store: Store) -> None:
    [old] = add(store, [item("link:http://example.org/a")])
    seen_again = item("link:https://example.org/a", former_keys=former(old.id))
    assert store.items.is_known(seen_again)
    assert not store.items.is_known(seen_again, former=False)
    unrelated = item("link:https://example.org/b", former_keys=former("link:http://example.org/b"))
    assert not store.items.is_known(unrelated)
    assert [i.id for i in add(store, [unrelated])] == [unrelated.id]
    assert not store.items.is_known(item("x", former_keys=former(unrelated.id)), former=False)


def test_an_item_known_by_a_former_key_moves_to_its_current_keys(stores: Stores) -> None:
    store = stores.open()
    [old] = add(store, [item("hash:old", extras={"entity_list": {"entities": 2}})])
    seen_again = item("hash:new", link_title_key="lt-new", former_keys=former("hash:old"))

    assert add(store, [seen_again]) == []

    store = stores.reopen(store)
    assert store.items.count() == 1
    assert store.items.is_known(item("hash:new"), former=False)
    assert store.items.is_known(item("other", link_title_key="lt-new"), former=False)
    found = store.items.get("fr-bis", "hash:new")
    assert found is not None and (found.id, found.seq) == ("hash:old", old.seq)
    assert found.extras == {"entity_list": {"entities": 2}}
    # Later churn the current identity absorbs is known without any former key.
    assert add(store, [item("hash:new", title="Retitled")]) == []


def test_a_batch_with_an_item_and_its_former_self_stores_it_once(store: Store) -> None:
    current = item("link:https://example.org/a")
    again = item("link:https://example.org/a/", former_keys=former(current.id))
    assert [i.id for i in add(store, [current, again])] == [current.id]


def test_a_pruned_item_known_by_a_former_key_stays_known_and_is_not_stored(store: Store) -> None:
    add(store, [item("hash:old")], now=NOW - timedelta(days=200))
    assert store.prune(NOW) == 1
    seen_again = item("hash:new", former_keys=former("hash:old"))
    assert store.items.is_known(seen_again)
    assert add(store, [seen_again]) == []
    assert store.items.count() == 0


def test_which_known_answers_for_many_items_in_order(store: Store) -> None:
    add(store, [item("x1", link_title_key="lt-x1"), item("hash:old")])
    asked = [
        item("x2"),
        item("x1", title="Retitled"),
        item("other-guid", link_title_key="lt-x1"),
        item("x1", feed_id="other-feed"),
        item("hash:new", former_keys=former("hash:old")),
    ]
    assert store.items.which_known(asked) == [False, True, True, False, True]
    assert store.items.which_known(asked, former=False) == [False, True, True, False, False]
    assert store.items.which_known([]) == []
