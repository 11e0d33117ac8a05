"""Day one: what a team sees right after the first poll, before any new document is published.

The first poll of a feed is stored as backlog (never alerted), but people can
still read it: `/brief latest` and search list it, marked "already published
when the bot started", the first digest of a channel covers the last day's
items by publication date (backlog included; later digests do not repeat
backlog), and `/brief status` says how many items each feed has stored and
when the last new one arrived. Feeds are served over loopback, commands go
through `handle_command`, digests through the real slack_sdk client to the
fake Slack; each test reads what the user reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.config.schema import parse_config_text
from bot.models import CommandRequest
from bot.render.mrkdwn import mrkdwn_to_plain
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

CHANNEL = "C0DAYONE001"
USER = "U0MEMBER001"
START = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
MARK = "already published when the bot started"


def entry(title: str, hours_ago: float) -> Entry:
    slug = title.lower().replace(" ", "-")
    return Entry(
        title=title,
        link=f"https://news.example/{slug}",
        guid=slug,
        summary=f"Details of {title.lower()}.",
        published=START - timedelta(hours=hours_ago),
    )


TODAY = [entry("Chip export rule published", 3), entry("Port fees revised", 5)]
OLD = entry("Rare earth quotas unchanged", 72)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    runtime: Runtime
    server: FeedServer
    slack: FakeSlack
    poster: Deliverer
    clock: Clock

    def ask(self, text: str) -> str:
        reply = handle_command(self.runtime, CommandRequest(USER, CHANNEL, text))
        lines: list[str] = []
        for message in reply.messages:
            for block in message.blocks:
                texts = [block.get("text"), *_text_elements(block)]
                lines += [t["text"] for t in texts if isinstance(t, dict)]
        return mrkdwn_to_plain("\n".join(lines))

    def send(self) -> str:
        before = len(self.slack.messages(CHANNEL))
        outcome = self.runtime.send_digest(self.runtime.config.digests[0], self.poster)
        assert outcome.status == "sent", (outcome.status, outcome.error)
        lines: list[str] = []
        for message in self.slack.messages(CHANNEL)[before:]:
            for block in message.blocks or []:
                texts = [block.get("text"), *_text_elements(block)]
                lines += [t["text"] for t in texts if isinstance(t, dict)]
        return mrkdwn_to_plain("\n".join(lines))


@pytest.fixture
def world(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> Iterator[World]:
    """One feed with two items of the last day and one of three days ago, polled once."""
    fake_slack.add_channel(CHANNEL)
    feed_server.add("/news.xml", make_rss([*TODAY, OLD]), etag='"v1"')
    feed_server.add("/quiet.xml", make_rss([]), etag='"q1"')
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        "feeds:\n"
        f"  - id: news\n    name: Trade news\n    url: {feed_server.url('/news.xml')}\n"
        "    allow_private: true\n"
        f"  - id: quiet\n    name: Quiet wire\n    url: {feed_server.url('/quiet.xml')}\n"
        "    allow_private: true\n"
        f"digests:\n  - channel: {CHANNEL}\n    at: '08:00'\n    timezone: UTC\n"
    )
    clock = Clock(START)
    config = parse_config_text(text, "test-feeds.yaml", env=backend.env())
    runtime = Runtime.open(config, clock=clock)
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.0, attempts=1)
    with runtime:
        [report, _] = runtime.poll(force=True)
        assert (report.new_items, report.backlog) == (3, True)
        yield World(runtime, feed_server, fake_slack, poster, clock)


def publish_new(world: World) -> None:
    """A day later, one new document: not backlog."""
    world.clock.now = START + timedelta(days=1)
    fresh = Entry(
        "Entity list additions",
        "https://news.example/entity-list-additions",
        guid="entity-list-additions",
        summary="Two entities added.",
        published=world.clock.now - timedelta(hours=1),
    )
    world.server.add("/news.xml", make_rss([fresh, *TODAY, OLD]), etag='"v2"')
    world.runtime.poll(force=True)


def test_latest_lists_the_backlog_marked(world: World) -> None:
    shown = world.ask("latest")
    assert shown.startswith("*3 results* for “latest”")
    titles = ["Chip export rule published", "Port fees revised", "Rare earth quotas unchanged"]
    positions = [shown.find(title) for title in titles]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert shown.count(MARK) == 3


def test_latest_of_a_feed_with_nothing_stored_says_so_not_to_use_fewer_words(
    world: World,
) -> None:
    shown = world.ask("latest quiet")
    assert "No items stored from Quiet wire yet" in shown
    assert "fewer words" not in shown and "export*" not in shown


def test_search_finds_backlog_marked_and_new_items_unmarked(world: World) -> None:
    shown = world.ask("search chip")
    assert "Chip export rule published" in shown
    assert MARK in shown
    publish_new(world)
    fresh = world.ask("search entity")
    assert "Entity list additions" in fresh and MARK not in fresh


def test_first_digest_preview_and_post_cover_the_last_day_backlog_included(world: World) -> None:
    preview = world.ask("digest")
    assert "Preview of this channel's digest" in preview
    assert "Chip export rule published" in preview and "Port fees revised" in preview
    assert "Rare earth quotas unchanged" not in preview  # published three days ago
    assert MARK in preview
    posted = world.send()
    assert "2 new items" in posted
    assert "Chip export rule published" in posted and "Port fees revised" in posted
    assert "Rare earth quotas unchanged" not in posted
    assert posted.count(MARK) == 2
    # The next digest has only what is new: no backlog again.
    publish_new(world)
    later = world.send()
    assert "1 new item" in later and "Entity list additions" in later
    assert "Chip export rule" not in later and MARK not in later


def test_backlog_still_alerts_nobody(world: World) -> None:
    world.ask("subscribe chip")
    world.runtime.dispatch_alerts(world.poster)
    assert world.slack.messages(USER) == []


def test_status_shows_items_stored_and_when_the_last_new_one_arrived(world: World) -> None:
    shown = world.ask("status")
    news = next(line for line in shown.splitlines() if "Trade news" in line)
    assert "3 items stored" in news and "no new item yet" in news
    publish_new(world)
    shown = world.ask("status")
    news = next(line for line in shown.splitlines() if "Trade news" in line)
    assert "4 items stored" in news
    assert "last new item 2026-11-25 23:00 UTC" in news, news


def _text_elements(block: Any) -> list[Any]:
    """A block's elements that are text (a context's); an actions block's buttons are not."""
    return [] if block.get("type") == "actions" else list(block.get("elements", []))
