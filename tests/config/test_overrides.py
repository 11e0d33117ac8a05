"""Feeds and schedules changed from Slack: validated like feeds.yaml, kept in a real store,
merged over feeds.yaml, and still there after a restart."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot.config.model import Config
from bot.config.overrides import (
    OverrideError,
    add_feed,
    clear_schedule,
    derive_feed_id,
    effective_config,
    feeds_added_from_slack,
    remove_feed,
    removed_feed_ids,
    set_feed_enabled,
    set_schedule,
)
from bot.config.schema import parse_config_text
from bot.models import FeedState
from bot.store.records.repos import record_table
from bot.store.tinydb.repos import StagedRecords
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
ADMIN = "U0ADMIN0001"

BASE_YAML = """
feeds:
  - id: fr-bis
    url: https://www.federalregister.gov/api/v1/documents.rss
    name: Federal Register BIS
    tags: [us]
  - id: meti
    url: https://www.meti.go.jp/english/rss/index.xml
    enabled: false
topics:
  - id: entity-list
    query: '"entity list"'
digests:
  - channel: C0BRIEFING1
    at: "09:00"
    timezone: America/New_York
    days: mon-fri
    topics: [entity-list]
    max_items: 7
"""


@pytest.fixture
def base() -> Config:
    return parse_config_text(BASE_YAML, "feeds.yaml", env={})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    with TinyStore.open(tmp_path / "data") as s:
        yield s


def feed_ids(config: Config) -> list[str]:
    return [f.id for f in config.feeds]


# -- ids -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "taken", "expected"),
    [
        pytest.param(
            "https://www.example.org/news/feed.xml", (), "example-org-news-feed", id="www"
        ),
        pytest.param("https://example.org/rss", (), "example-org-rss", id="no-suffix"),
        pytest.param("https://example.org/", (), "example-org", id="root"),
        pytest.param("https://Example.ORG/A_B.atom?x=1", (), "example-org-a-b", id="case-query"),
        pytest.param(
            "https://example.org/rss", ("example-org-rss",), "example-org-rss-2", id="taken"
        ),
        pytest.param(
            "https://example.org/rss",
            ("example-org-rss", "example-org-rss-2"),
            "example-org-rss-3",
            id="taken-twice",
        ),
        pytest.param("https://例え.jp/", (), "xn-r8jz45g-jp", id="idn"),
        pytest.param("https://[::ffff:1.2.3.4]/", (), "ffff-1-2-3-4", id="ipv6"),
        pytest.param("http://_/", (), "feed", id="nothing-usable"),
        pytest.param("https://a.example/" + "x" * 200, (), "a-example-" + "x" * 46, id="long"),
    ],
)
def test_feed_id_comes_from_host_and_path(url: str, taken: tuple[str, ...], expected: str) -> None:
    assert derive_feed_id(url, taken) == expected


# -- feeds -------------------------------------------------------------------------


def test_added_feed_joins_the_config_without_allow_private(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        feed = add_feed(
            tx, base, "https://example.org/news/feed.xml", tags=["US", "chips"], by=ADMIN, now=NOW
        )

    config = effective_config(base, store.overrides)
    assert feed_ids(config) == ["fr-bis", "meti", "example-org-news-feed"]
    added = config.feed("example-org-news-feed")
    assert added == feed
    assert added is not None
    assert (added.url, added.tags, added.enabled, added.allow_private) == (
        "https://example.org/news/feed.xml",
        ("us", "chips"),
        True,
        False,
    )
    assert feeds_added_from_slack(store.overrides) == {"example-org-news-feed": ADMIN}


@pytest.mark.parametrize(
    ("url", "tags", "message"),
    [
        pytest.param(
            "ftp://example.org/feed", [], "must start with http:// or https://", id="scheme"
        ),
        pytest.param("https:///feed.xml", [], "has no host name", id="no-host"),
        pytest.param(
            "http://127.0.0.1:8080/feed", [], "127.0.0.1 is a loopback address", id="loopback"
        ),
        pytest.param("http://10.1.2.3/feed", [], "is a private-network address", id="private"),
        pytest.param("http://[::1]/feed", [], "is a loopback address", id="ipv6-loopback"),
        pytest.param("http://localhost/feed", [], "localhost is a loopback name", id="localhost"),
        pytest.param("http://2130706433/feed", [], "is the address 127.0.0.1", id="decimal-ip"),
        pytest.param("http://0x7f.1/feed", [], "is the address 127.0.0.1", id="hex-ip"),
        pytest.param("http://10.1/feed", [], "is the address 10.0.0.1", id="short-ip"),
        pytest.param("https://example.org/a b", [], "contains spaces", id="space"),
        pytest.param("https://example.org/f", ["a:b"], "tag 'a:b' must be one word", id="bad-tag"),
    ],
)
def test_add_feed_refuses_what_feeds_yaml_refuses(
    base: Config, store: TinyStore, url: str, tags: list[str], message: str
) -> None:
    with store.transaction() as tx:
        with pytest.raises(OverrideError) as caught:
            add_feed(tx, base, url, tags=tags, by=ADMIN, now=NOW)
        # Refused before anything was written, not only rolled back.
        assert tx.overrides.feeds() == {}
    assert message in str(caught.value)
    assert not str(caught.value).startswith("feed '")  # the derived id is not the user's
    assert store.overrides.feeds() == {}


def test_private_address_refusal_says_slack_cannot_allow_it(base: Config, store: TinyStore) -> None:
    with (
        pytest.raises(
            OverrideError,
            match="feeds added from Slack cannot have allow_private or allow_addresses",
        ),
        store.transaction() as tx,
    ):
        add_feed(tx, base, "http://192.168.1.1/rss", by=ADMIN, now=NOW)


def test_a_public_numeric_host_is_accepted(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        feed = add_feed(tx, base, "http://134744072/feed", by=ADMIN, now=NOW)  # 8.8.8.8
    assert feed.url == "http://134744072/feed"


def test_adding_a_url_that_is_already_a_feed_names_it(base: Config, store: TinyStore) -> None:
    with pytest.raises(OverrideError, match="already feed fr-bis"), store.transaction() as tx:
        add_feed(tx, base, base.feeds[0].url, by=ADMIN, now=NOW)


def test_new_feed_never_takes_an_id_with_stored_feed_state(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        tx.feed_states.put(FeedState(feed_id="example-org-rss", first_poll_done=True))
    with store.transaction() as tx:
        feed = add_feed(tx, base, "https://example.org/rss", by=ADMIN, now=NOW)
    assert feed.id == "example-org-rss-2"


def test_new_feed_never_takes_an_id_with_feed_state_of_the_same_transaction(
    base: Config, store: TinyStore
) -> None:
    with store.transaction() as tx:
        tx.feed_states.put(FeedState(feed_id="example-org-rss", first_poll_done=True))
        feed = add_feed(tx, base, "https://example.org/rss", by=ADMIN, now=NOW)
    assert feed.id == "example-org-rss-2"


def test_pause_resume_and_remove_of_a_feeds_yaml_feed(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        set_feed_enabled(tx, base, "fr-bis", False, by=ADMIN, now=NOW)
    paused = effective_config(base, store.overrides).feed("fr-bis")
    assert paused is not None and not paused.enabled

    with store.transaction() as tx:
        set_feed_enabled(tx, base, "meti", True, by=ADMIN, now=NOW)  # disabled in feeds.yaml
    resumed = effective_config(base, store.overrides).feed("meti")
    assert resumed is not None and resumed.enabled

    with store.transaction() as tx:
        removed = remove_feed(tx, base, "fr-bis", by=ADMIN, now=NOW)
    assert removed.id == "fr-bis"
    assert feed_ids(effective_config(base, store.overrides)) == ["meti"]
    assert removed_feed_ids(base, store.overrides) == ["fr-bis"]
    with (
        pytest.raises(OverrideError, match="there is no feed 'fr-bis'"),
        store.transaction() as tx,
    ):
        set_feed_enabled(tx, base, "fr-bis", False, by=ADMIN, now=NOW)

    with store.transaction() as tx:
        back = set_feed_enabled(tx, base, "fr-bis", True, by=ADMIN, now=NOW)
    assert back.enabled
    assert feed_ids(effective_config(base, store.overrides)) == ["fr-bis", "meti"]
    assert removed_feed_ids(base, store.overrides) == []


def test_removing_a_feed_added_from_slack_forgets_it(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        feed = add_feed(tx, base, "https://example.org/rss", by=ADMIN, now=NOW)
    with store.transaction() as tx:
        set_feed_enabled(tx, base, feed.id, False, by=ADMIN, now=NOW)
    paused = effective_config(base, store.overrides).feed(feed.id)
    assert paused is not None and not paused.enabled

    with store.transaction() as tx:
        remove_feed(tx, base, feed.id, by=ADMIN, now=NOW)
    assert feed_ids(effective_config(base, store.overrides)) == ["fr-bis", "meti"]
    assert store.overrides.feeds() == {}
    with pytest.raises(OverrideError, match="there is no feed"), store.transaction() as tx:
        remove_feed(tx, base, feed.id, by=ADMIN, now=NOW)


def test_feeds_yaml_wins_when_it_defines_an_added_feeds_id(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        add_feed(tx, base, "https://example.org/rss", by=ADMIN, now=NOW)
    text = BASE_YAML.replace(
        "feeds:\n", "feeds:\n  - id: example-org-rss\n    url: https://other.example/rss\n", 1
    )
    later = parse_config_text(text, "feeds.yaml", env={})
    merged = effective_config(later, store.overrides)
    assert [f.url for f in merged.feeds if f.id == "example-org-rss"] == [
        "https://other.example/rss"
    ]


def put_raw(store: TinyStore, table: str, key: str, value: Any) -> None:
    """Write `value` as the JSON of record `key` of `table`, unchecked (TinyDB's state.json)."""
    with store.transaction() as tx:
        StagedRecords(store.engine.state, tx.changes.state).put(record_table(table), key, value)


def test_a_damaged_record_is_skipped_and_logged(
    base: Config, store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    put_raw(store, "feed_overrides", "evil", {"added": {"url": "http://127.0.0.1/"}})
    put_raw(
        store,
        "schedule_overrides",
        "C0BRIEFING1",
        {"at": "25:00", "timezone": "America/New_York", "days": "mon-fri"},
    )
    with caplog.at_level(logging.WARNING, logger="bot.config.overrides"):
        merged = effective_config(base, store.overrides)
    assert feed_ids(merged) == ["fr-bis", "meti"]
    assert merged.digests == base.digests
    assert "skipping feed evil added from Slack" in caplog.text
    assert "skipping the digest schedule set from Slack for C0BRIEFING1" in caplog.text


def test_a_schedule_record_missing_fields_is_skipped_and_logged(
    base: Config, store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    put_raw(store, "schedule_overrides", "C0BRIEFING1", {"at": "25:00"})
    with caplog.at_level(logging.WARNING):
        merged = effective_config(base, store.overrides)
    assert merged.digests == base.digests
    assert [r.getMessage() for r in caplog.records] == [
        "skipping damaged schedule_overrides record 'C0BRIEFING1': "
        "the schedule set from Slack lacks 'timezone'"
    ]


# -- schedules -------------------------------------------------------------------------


def test_schedule_replaces_time_zone_and_days_and_keeps_the_rest(
    base: Config, store: TinyStore
) -> None:
    with store.transaction() as tx:
        digest = set_schedule(
            tx, base, "C0BRIEFING1", at="07:15", timezone="asia/tokyo", by=ADMIN, now=NOW
        )
    assert (digest.at, digest.timezone) == (time(7, 15), "Asia/Tokyo")
    merged = effective_config(base, store.overrides).digest("C0BRIEFING1")
    assert merged == digest
    assert merged is not None
    assert (merged.days, merged.topics, merged.max_items) == (
        frozenset(range(5)),
        ("entity-list",),
        7,
    )


def test_schedule_for_a_new_channel_uses_utc_and_every_day(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        set_schedule(tx, base, "C0NEWCHAN01", at="18:00", by=ADMIN, now=NOW)
    digest = effective_config(base, store.overrides).digest("C0NEWCHAN01")
    assert digest is not None
    assert (digest.at, digest.timezone, digest.days, digest.topics) == (
        time(18, 0),
        "UTC",
        frozenset(range(7)),
        (),
    )


@pytest.mark.parametrize(
    ("channel", "at", "zone", "days", "message"),
    [
        pytest.param("C0BRIEFING1", "8:3", None, None, "at '8:3' is not a time of day", id="time"),
        pytest.param(
            "C0BRIEFING1", "08:30", "Asia/Tokio", None, "did you mean 'Asia/Tokyo'?", id="zone"
        ),
        pytest.param("C0BRIEFING1", "08:30", None, "mon-fru", "'fru' is not a day name", id="days"),
        pytest.param("D0DIRECT001", "08:30", None, None, "is not a Slack channel id", id="dm"),
    ],
)
def test_bad_schedules_get_config_messages(
    base: Config,
    store: TinyStore,
    channel: str,
    at: str,
    zone: str | None,
    days: str | None,
    message: str,
) -> None:
    with store.transaction() as tx:
        with pytest.raises(OverrideError) as caught:
            set_schedule(tx, base, channel, at=at, timezone=zone, days=days, by=ADMIN, now=NOW)
        # Refused before anything was written, not only rolled back.
        assert tx.overrides.schedules() == {}
    assert message in str(caught.value)
    assert not str(caught.value).startswith("digest ")
    assert store.overrides.schedules() == {}


def test_clearing_a_schedule_restores_feeds_yaml(base: Config, store: TinyStore) -> None:
    with store.transaction() as tx:
        set_schedule(tx, base, "C0BRIEFING1", at="07:15", by=ADMIN, now=NOW)
    with store.transaction() as tx:
        assert clear_schedule(tx, "C0BRIEFING1")
    assert effective_config(base, store.overrides).digests == base.digests
    with store.transaction() as tx:
        assert not clear_schedule(tx, "C0BRIEFING1")


def test_changes_survive_a_restart(base: Config, tmp_path: Path) -> None:
    with TinyStore.open(tmp_path / "d") as store, store.transaction() as tx:
        add_feed(tx, base, "https://example.org/rss", tags=["eu"], by=ADMIN, now=NOW)
        set_feed_enabled(tx, base, "fr-bis", False, by=ADMIN, now=NOW)
        set_schedule(tx, base, "C0NEWCHAN01", at="06:00", days="weekdays", by=ADMIN, now=NOW)
    with TinyStore.open(tmp_path / "d") as store:
        merged = effective_config(base, store.overrides)
    assert [(f.id, f.enabled) for f in merged.feeds] == [
        ("fr-bis", False),
        ("meti", False),
        ("example-org-rss", True),
    ]
    digest = merged.digest("C0NEWCHAN01")
    assert digest is not None and digest.days == frozenset(range(5))


def test_changes_rolled_back_leave_nothing(base: Config, tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    with TinyStore.open(tmp_path / "d") as store:
        with pytest.raises(Boom), store.transaction() as tx:
            add_feed(tx, base, "https://example.org/rss", tags=["eu"], by=ADMIN, now=NOW)
            set_feed_enabled(tx, base, "fr-bis", False, by=ADMIN, now=NOW)
            set_schedule(tx, base, "C0NEWCHAN01", at="06:00", by=ADMIN, now=NOW)
            assert effective_config(base, tx.overrides) != base
            raise Boom
        assert effective_config(base, store.overrides) == base
    with TinyStore.open(tmp_path / "d") as store:
        assert effective_config(base, store.overrides) == base
