"""Item identity under churn, end to end: a loopback feed that changes on every poll.

Each test polls a real `Runtime` (loopback HTTP feed, real TinyDB store)
several times while the publisher churns what identifies its entries:
http <-> https and trailing slashes, tracking and session parameters, the
pubDate of entries with neither GUID nor link, and one GUID shared by many
distinct entries. What a user would see is asserted: the items stored (count
and titles) and the alerts queued for a subscription (no flood).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.config.schema import parse_config_text
from bot.models import PollReport
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

OWNER = "U0READER01"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def runtime(tmp_path: Path, feed_server: FeedServer) -> Iterator[Runtime]:
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n  - id: wire\n    url: {feed_server.url('/wire.xml')}\n"
        "    allow_private: true\n"
    )
    with Runtime.open(parse_config_text(text, "identity.yaml", env={})) as opened:
        yield opened


def publish(feed_server: FeedServer, entries: list[Entry]) -> None:
    feed_server.add("/wire.xml", make_rss(entries))


def poll(runtime: Runtime) -> PollReport:
    [report] = runtime.poll(force=True)
    assert report.status == "ok", report
    return report


def subscribe(runtime: Runtime, query: str) -> None:
    with runtime.store.transaction() as tx:
        create_subscription(
            tx, owner=OWNER, created_by=OWNER, topic_or_query=query, topics={}, now=NOW
        )


def stored_titles(runtime: Runtime) -> list[str]:
    return sorted(item.title for item in runtime.store.items.after())


def queued_alerts(runtime: Runtime) -> int:
    return len([a for a in runtime.store.alerts.queued() if a.owner == OWNER])


def churn_and_check(
    runtime: Runtime,
    feed_server: FeedServer,
    entries: Callable[[int], list[Entry]],
    *,
    query: str,
    polls: int = 6,
) -> None:
    """Poll 0 is backlog; then `polls` churned versions store nothing and queue no alert."""
    publish(feed_server, entries(0))
    first = poll(runtime)
    expected = sorted(e.title for e in entries(0))
    assert first.new_items == len(expected)
    assert stored_titles(runtime) == expected
    subscribe(runtime, query)
    for n in range(1, polls + 1):
        publish(feed_server, entries(n))
        report = poll(runtime)
        assert report.new_items == 0, f"poll {n} stored {report.new_items} again"
    assert stored_titles(runtime) == expected
    assert queued_alerts(runtime) == 0


def token(*parts: object) -> str:
    return hashlib.md5(repr(parts).encode(), usedforsecurity=False).hexdigest()


def test_links_flipping_between_http_and_https_store_each_entry_once(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    def entries(n: int) -> list[Entry]:
        scheme = "https" if n % 2 else "http"
        slash = "/" if n % 3 == 1 else ""
        port = ":443" if scheme == "https" and n % 4 == 3 else ""
        plain = [
            Entry(f"Chip story {k}", f"{scheme}://News.example{port}/story/{k}{slash}")
            for k in range(1, 6)
        ]
        # GUIDs that are permalinks flip with the links.
        permalinks = [
            Entry(
                f"Blog story {k}",
                f"{scheme}://blog.example/p/{k}{slash}",
                guid=f"{scheme}://blog.example/p/{k}{slash}",
            )
            for k in range(1, 6)
        ]
        return plain + permalinks

    churn_and_check(runtime, feed_server, entries, query="story")

    publish(feed_server, [Entry("Chip story 6", "https://news.example/story/6"), *entries(1)])
    assert poll(runtime).new_items == 1
    assert queued_alerts(runtime) == 1


def test_tracking_and_session_parameters_that_change_every_poll_store_nothing_new(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    def entries(n: int) -> list[Entry]:
        made = []
        for k in range(1, 6):
            params = [f"id={k}", f"sid={token('sid', n, k)}", f"utm_campaign=poll-{n}"]
            if n % 2:
                params.reverse()
                params.append(f"fbclid={token('fb', n)}")
            made.append(
                Entry(f"Forum post {k}", f"https://forum.example/viewtopic.php?{'&'.join(params)}")
            )
        return made

    churn_and_check(runtime, feed_server, entries, query="forum")

    publish(feed_server, [Entry("Forum post 6", "https://forum.example/viewtopic.php?id=6")])
    assert poll(runtime).new_items == 1
    assert queued_alerts(runtime) == 1


def test_entries_without_guid_or_link_are_not_new_when_only_their_date_changes(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    def entries(n: int) -> list[Entry]:
        return [
            Entry(
                f"Outage notice {k}",
                None,
                summary=f"Service {k} is unavailable.",
                published=NOW - timedelta(minutes=k) + timedelta(seconds=7 * n),
            )
            for k in range(1, 4)
        ]

    churn_and_check(runtime, feed_server, entries, query="outage")

    # Different text is a different entry, even under the same title.
    changed = entries(9)
    changed[0] = Entry("Outage notice 1", None, summary="Service 1 is back.", published=NOW)
    publish(feed_server, changed)
    assert poll(runtime).new_items == 1
    assert queued_alerts(runtime) == 1


def test_fifty_entries_sharing_one_guid_are_all_kept_and_the_feed_is_warned_about_once(
    runtime: Runtime, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = "https://tools.example/feed"

    def entries(n: int) -> list[Entry]:
        return [
            Entry(f"Release {k}", f"https://tools.example/releases/{k}", guid=shared)
            for k in range(50, 0, -1)
        ]

    caplog.set_level(logging.WARNING)
    publish(feed_server, entries(0))
    assert poll(runtime).new_items == 50
    assert stored_titles(runtime) == sorted(f"Release {k}" for k in range(1, 51))
    subscribe(runtime, "release")
    for _ in range(3):
        caplog.clear()
        assert poll(runtime).new_items == 0
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert "feed wire" in warnings[0] and "share" in warnings[0], warnings[0]
    assert queued_alerts(runtime) == 0

    publish(
        feed_server,
        [Entry("Release 51", "https://tools.example/releases/51", guid=shared), *entries(1)],
    )
    assert poll(runtime).new_items == 1
    assert queued_alerts(runtime) == 1
    assert runtime.store.items.count() == 51
