"""bot/ingest/identity.py, through parse_feed and a real store: ids, second keys, former keys.

The end-to-end churn (a loopback feed polled by a Runtime) is in
test_identity_churn.py; data written by release 0.1.0 in
tests/store/tinydb/test_release_compat.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ingest.parse import parse_feed
from bot.models import Item, dedup_key
from bot.store.tinydb.store import TinyStore
from tests.ingest.feedfixtures import FETCHED_AT, rss


def parse(items: str) -> list[Item]:
    result = parse_feed("f", rss(items), fetched_at=FETCHED_AT)
    assert result.error is None, result.error
    return list(result.items)


def entry(
    title: str = "",
    *,
    link: str | None = None,
    guid: str | None = None,
    text: str = "",
    date: str = "",
) -> str:
    parts = [f"<title>{title}</title>" if title else ""]
    parts.append(f"<link>{link}</link>" if link else "")
    parts.append(f"<guid>{guid}</guid>" if guid else "")
    parts.append(f"<description>{text}</description>" if text else "")
    parts.append(f"<pubDate>{date}</pubDate>" if date else "")
    return f"<item>{''.join(parts)}</item>"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    with TinyStore.open(tmp_path / "data") as opened:
        yield opened


def keep(store: TinyStore, items: list[Item]) -> list[str]:
    with store.transaction() as tx:
        return [i.title for i in tx.items.add(items, now=FETCHED_AT)]


# --- ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "guid", "expected"),
    [
        pytest.param("http://Example.org/a/", None, "link:https://example.org/a", id="link"),
        pytest.param(
            None, "http://example.org/p/1/", "guid:https://example.org/p/1", id="url-guid"
        ),
        pytest.param(
            None,
            "http://example.org/p/1/#comment-2",
            "guid:https://example.org/p/1#comment-2",
            id="url-guid-keeps-fragment",
        ),
        pytest.param(None, "urn:uuid:1", "guid:urn:uuid:1", id="other-guid-as-given"),
    ],
)
def test_ids_use_the_identity_form(link: str | None, guid: str | None, expected: str) -> None:
    [item] = parse(entry("Title", link=link, guid=guid))
    assert item.id == expected


def test_an_entry_without_guid_or_link_is_its_title_and_text_not_its_date() -> None:
    base = entry("Outage", text="Service A is down.", date="Tue, 17 Nov 2026 08:00:00 GMT")
    later = entry("Outage", text="Service A is down.", date="Tue, 17 Nov 2026 08:05:00 GMT")
    spaced = entry("OUTAGE ", text="Service  A is down.")
    other_text = entry("Outage", text="Service A is back.")
    other_title = entry("Outage over", text="Service A is down.")
    ids = [parse(doc)[0].id for doc in (base, later, spaced, other_text, other_title)]
    assert ids[0].startswith("hash:")
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids)) == 3


def test_entries_sharing_a_guid_are_told_apart_and_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    items = parse(
        entry("Release 2", link="https://example.org/r/2", guid="G")
        + entry("Release 1", link="https://example.org/r/1", guid="G")
        + entry("Release 1", link="https://example.org/r/1", guid="G")  # a repeat
        + entry("No link A", guid="H", text="first")
        + entry("No link A", guid="H", text="second")
        + entry("Alone", link="https://example.org/alone", guid="I")
    )
    titles = ["Release 2", "Release 1", "No link A", "No link A", "Alone"]
    assert [i.title for i in items] == titles
    assert all(i.id.startswith("guid-shared:") for i in items[:4])
    assert items[4].id == "guid:I"
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == (
        "feed f: 4 different entries share 2 GUID(s); each is told apart by its link and title"
    )


# --- keys the store remembers ------------------------------------------------------------


def test_an_entry_whose_guid_becomes_shared_stays_known(store: TinyStore) -> None:
    alone = entry("Release 1", link="https://example.org/r/1", guid="G")
    linkless = entry(guid="H", text="Only text.")
    assert keep(store, parse(alone + linkless)) == ["Release 1", "Only text."]

    shared = (
        entry("Release 2", link="https://example.org/r/2", guid="G")
        + alone
        + entry(guid="H", text="Other text.")
        + linkless
    )
    assert keep(store, parse(shared)) == ["Release 2", "Other text."]
    # And back: the GUID carried by one entry again.
    assert keep(store, parse(alone + linkless)) == []


def test_former_keys_are_release_0_1_identity_with_scheme_and_slash_undone() -> None:
    [linked] = parse(entry("A", link="http://example.org/a/?utm_source=x"))
    [guided] = parse(entry("B", guid="https://example.org/b"))
    [dated] = parse(entry("C", text="Text.", date="Tue, 17 Nov 2026 08:00:00 GMT"))

    def ids(item: Item) -> set[str]:
        return {k.split("\x1f", 2)[2] for k in item.former_keys if k.split("\x1f")[1] == "id"}

    assert ids(linked) == {
        "link:http://example.org/a/",
        "link:https://example.org/a/",
        "link:http://example.org/a",
        "link:https://example.org/a",
    }
    assert ids(guided) == {
        "guid:https://example.org/b",
        "guid:http://example.org/b",
        "guid:https://example.org/b/",
        "guid:http://example.org/b/",
    }
    [old_hash] = ids(dated)
    assert old_hash.startswith("hash:") and old_hash != dated.id
    assert len([k for k in linked.former_keys if "\x1flt\x1f" in k]) == 4
    assert all(k.startswith("f\x1f") for k in linked.former_keys)


def test_a_shared_guid_has_no_former_guid_key() -> None:
    items = parse(
        entry("Release 2", link="https://example.org/r/2", guid="G")
        + entry("Release 1", link="https://example.org/r/1", guid="G")
    )
    for item in items:
        assert dedup_key("f", "id", "guid:G") not in item.lookup_keys
