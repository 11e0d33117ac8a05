"""What a digest says, as it reaches Slack: its period and count, the other new items, names.

Feeds are served over loopback and polled by the real runtime; the digest is
sent through the real slack_sdk client to the fake Slack, and each test reads
the message that arrived: the header's period and count, the "Other new
items" section (`others: show | count | hide`), its cap and the command that
lists the rest, feed names in "also in", the Entity List line and the
one-line summaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import DigestConfig, SlackSecrets
from bot.config.schema import load_config, parse_config_text
from bot.models import CommandRequest, FeedConfig, SlackMessage
from bot.render.mrkdwn import mrkdwn_to_plain
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.support import paths
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

CHANNEL = "C0DIGEST01"
# 23:00 UTC on Tuesday 24 November is 08:00 on Wednesday 25 November in Tokyo.
START = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)

# The abstract of Federal Register document 2024-03674, as BIS wrote it.
EL_ABSTRACT = (
    "The Bureau of Industry and Security is amending the Export Administration Regulations "
    "(EAR) by adding two entities under seven entries to the Entity List. These entities are "
    "listed under the destinations of Canada (1), the People's Republic of China (China) (1), "
    "India (1), Japan (1), Malaysia (1), Sweden (1), and the United Arab Emirates (UAE) (1). "
    "Some entities are added under multiple entries, accounting for the difference in the "
    "totals. This final rule also modifies two existing entries on the Entity List under the "
    "destination of China. This final rule removes one entity under the destination of the UAE."
)
EL_TITLE = (
    "Additions of Entities, Revisions of Entries, and Removal of an Entity From the Entity List"
)
EL_LINK = "https://www.federalregister.gov/documents/2024/02/27/2024-03674/additions-of-entities"


class Clock:
    """The runtime's clock, moved by the test."""

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

    def serve(self, path: str, entries: list[Entry]) -> None:
        self.server.add(path, make_rss(entries), etag=f'"{len(entries)}-{self.clock.now}"')

    def send(self) -> str:
        """Send the channel's digest; what reached Slack, one block per line, as mrkdwn."""
        before = len(self.slack.messages(CHANNEL))
        outcome = self.runtime.send_digest(self.runtime.config.digests[0], self.poster)
        assert outcome.status == "sent", outcome.error
        return blocks_text(self.slack, before)


def blocks_text(slack: FakeSlack, start: int = 0) -> str:
    lines: list[str] = []
    for message in slack.messages(CHANNEL)[start:]:
        for block in message.blocks or []:
            texts = [block.get("text"), *_text_elements(block)]
            lines += [t["text"] for t in texts if isinstance(t, dict)]
    return "\n".join(lines)


def entry(title: str, minutes_ago: int, *, summary: str = "", link: str = "") -> Entry:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return Entry(
        title=title,
        link=link or f"https://news.example/{slug}",
        guid=link or slug,
        summary=summary or f"Details of {title.lower()}.",
        published=START - timedelta(minutes=minutes_ago),
    )


# Eight items no topic asks for, newest first.
OTHERS = [entry(f"Port authority notice {n}", 10 + n) for n in range(1, 9)]
CHIP = entry(
    "Chip tool makers report slower orders",
    5,
    summary="Orders for wafer-fab tools fell for a second quarter.\nSee the table.",
)
RULE = entry(EL_TITLE, 60, summary=EL_ABSTRACT, link=EL_LINK)


@pytest.fixture
def world(
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: Backend,
) -> Iterator[World]:
    """Three named feeds polled once (empty: the backlog), a Tokyo digest; `digest_extra` adds."""
    extra = getattr(request, "param", "")
    fake_slack.add_channel(CHANNEL)
    for path in ("/bis.xml", "/el.xml", "/news.xml"):
        feed_server.add(path, make_rss([]), etag='"empty"')
    feeds = "".join(
        f"  - id: {fid}\n    name: '{name}'\n    url: {feed_server.url(path)}\n"
        "    allow_private: true\n"
        for fid, name, path in (
            ("fr-bis", "Federal Register: BIS", "/bis.xml"),
            ("fr-entity-list", "Federal Register: Entity List rules", "/el.xml"),
            ("news", "Trade news", "/news.xml"),
        )
    )
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        f"feeds:\n{feeds}"
        "topics:\n"
        "  - id: entity-list\n    query: '\"entity list\"'\n"
        "    description: Entity List\n    priority: 100\n"
        "  - id: chips\n    query: chip OR semiconductor*\n    description: Semiconductors\n"
        f"digests:\n  - channel: {CHANNEL}\n    at: '08:00'\n    timezone: Asia/Tokyo\n{extra}"
    )
    clock = Clock(START)
    config = parse_config_text(text, "test-feeds.yaml", env=backend.env())
    runtime = Runtime.open(config, clock=clock)
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.0, attempts=1)
    with runtime:
        runtime.poll(force=True)  # the first poll of each feed: backlog
        yield World(runtime, feed_server, fake_slack, poster, clock)


def publish_the_day(world: World) -> None:
    """The Entity List rule in both Federal Register feeds, a chip story and eight others."""
    world.serve("/bis.xml", [RULE])
    world.serve("/el.xml", [RULE])
    world.serve("/news.xml", [CHIP, *OTHERS])
    world.runtime.poll(force=True)


# -- the header: period and count ------------------------------------------------------


def test_header_names_the_period_in_the_channel_zone_and_counts_every_new_item(
    world: World,
) -> None:
    publish_the_day(world)
    shown = world.send()
    # The first digest covers the last day: since 08:00 on Tuesday in Tokyo.
    assert shown.splitlines()[:2] == [
        "Briefing · Wednesday 25 November 2026",
        "*10 new items* since Tuesday 24 November, 08:00 JST",
    ]
    world.clock.now = START + timedelta(days=1, minutes=30)
    world.serve("/news.xml", [entry("Chip subsidy approved", -1400), CHIP, *OTHERS])
    world.runtime.poll(force=True)
    again = world.send()
    # The next one covers what came since the last digest went out.
    assert again.splitlines()[1] == "*1 new item* since Wednesday 25 November, 08:00 JST"


# -- the other new items ----------------------------------------------------------------


def test_other_new_items_follow_the_topics_capped_with_the_rest_and_the_command(
    world: World,
) -> None:
    publish_the_day(world)
    shown = world.send()
    headings = re.findall(r"^\*([^*]+)\* \((\d+)\)$", shown, re.MULTILINE)
    assert headings == [("Entity List", "1"), ("Semiconductors", "1"), ("Other new items", "8")]
    other = shown[shown.index("*Other new items* (8)") :]
    # The newest five, newest first; the count of the rest and the command that lists them.
    listed = re.findall(r"Port authority notice \d", other)
    assert listed == [f"Port authority notice {n}" for n in range(1, 6)]
    assert other.splitlines()[-1] == "3 more: `/brief latest others`"


def test_the_command_the_digest_names_lists_the_other_new_items(world: World) -> None:
    publish_the_day(world)
    world.send()
    reply = handle_command(world.runtime, CommandRequest("U0MEMBER001", CHANNEL, "latest others"))
    text = mrkdwn_to_plain("\n".join(blocks_of(reply.messages)))
    assert text.startswith("*8 results* for “latest matching no topic”")
    assert re.findall(r"Port authority notice \d", text) == [
        f"Port authority notice {n}" for n in range(1, 9)
    ]
    assert "Chip tool makers" not in text and "Entity List" not in text


def blocks_of(messages: Sequence[SlackMessage]) -> list[str]:
    found: list[str] = []
    for message in messages:
        for block in message.blocks:
            texts = [block.get("text"), *_text_elements(block)]
            found += [t["text"] for t in texts if isinstance(t, dict)]
    return found


@pytest.mark.parametrize("world", ["    others: count\n"], indirect=True)
def test_others_count_says_how_many_and_how_to_list_them(world: World) -> None:
    publish_the_day(world)
    shown = world.send()
    assert "*10 new items* since" in shown
    assert "Port authority notice" not in shown
    assert shown.splitlines()[-1] == "8 other new items, matching no topic: `/brief latest others`"


@pytest.mark.parametrize("world", ["    others: hide\n"], indirect=True)
def test_others_hide_leaves_them_out_of_the_digest_and_its_count(world: World) -> None:
    publish_the_day(world)
    shown = world.send()
    assert "*2 new items* since" in shown
    assert "Port authority notice" not in shown
    assert "other" not in shown.lower()


def test_a_day_with_only_other_new_items_still_gets_a_digest(world: World) -> None:
    world.serve("/news.xml", OTHERS[:2])
    world.runtime.poll(force=True)
    shown = world.send()
    assert "*2 new items* since" in shown
    assert "*Other new items* (2)" in shown
    assert "Port authority notice 1" in shown


@pytest.mark.parametrize("world", ["    others: hide\n"], indirect=True)
def test_a_day_with_only_hidden_other_items_posts_nothing(world: World) -> None:
    world.serve("/news.xml", OTHERS[:2])
    world.runtime.poll(force=True)
    outcome = world.runtime.send_digest(world.runtime.config.digests[0], world.poster)
    assert outcome.status == "skipped"
    assert world.slack.messages(CHANNEL) == []


@pytest.mark.parametrize("world", ["    max_items: 3\n"], indirect=True)
def test_max_items_counts_the_other_new_items_too(world: World) -> None:
    publish_the_day(world)
    shown = world.send()
    other = shown[shown.index("*Other new items* (8)") :]
    assert re.findall(r"Port authority notice \d", other) == ["Port authority notice 1"]
    assert other.splitlines()[-1] == "7 more: `/brief latest others`"


# -- what each item says ------------------------------------------------------------------


def test_also_in_names_the_other_feed_and_the_entity_list_line_adds_up(world: World) -> None:
    publish_the_day(world)
    shown = world.send()
    rule = shown[shown.index(EL_TITLE) :].splitlines()
    # The rule came through both Federal Register feeds: shown once, naming the other by name.
    assert shown.count(EL_TITLE) == 1
    assert "also in: Federal Register: Entity List rules" in rule[2]
    assert "fr-entity-list" not in shown
    assert rule[1] == (
        "2 entities added, 7 entries: Canada 1, China 1, India 1, Japan 1, Malaysia 1, "
        "Sweden 1, United Arab Emirates 1; 2 revised; 1 removed"
    )


@pytest.mark.parametrize("world", ["    summaries: true\n"], indirect=True)
def test_summaries_put_one_line_under_each_item(world: World) -> None:
    publish_the_day(world)
    shown = world.send()
    chip = shown[shown.index("Chip tool makers report slower orders") :].splitlines()
    assert chip[1] == "Orders for wafer-fab tools fell for a second quarter. See the table."
    assert "Details of port authority notice 1." in shown


def test_without_summaries_an_item_is_its_title_and_where_it_came_from(world: World) -> None:
    publish_the_day(world)
    shown = world.send()
    assert "Orders for wafer-fab tools" not in shown
    chip = shown[shown.index("Chip tool makers report slower orders") :].splitlines()
    assert chip[1].startswith("Trade news · <!date^")


# -- issue 13: with the shipped topics, nothing new vanishes ---------------------------------


def test_with_the_shipped_topics_an_ofac_notice_and_everything_else_is_in_the_digest(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> None:
    """Ten real Federal Register documents of August 2025, through the shipped feeds.yaml."""
    fake_slack.add_channel(CHANNEL)
    feed_server.add("/fr.xml", make_rss([]), etag='"empty"')
    shipped = load_config(paths.ROOT / "bot" / "default_feeds.yaml", env={})
    feed = FeedConfig(
        id="fr-all", url=feed_server.url("/fr.xml"), name="Federal Register", allow_private=True
    )
    digest = DigestConfig(channel=CHANNEL, at=time(8, 0), timezone="America/New_York")
    config = backend.configure(
        replace(
            shipped,
            feeds=(feed,),
            digests=(digest,),
            settings=replace(shipped.settings, data_dir=str(tmp_path / "data")),
            screening_list=None,  # the shipped one is on the internet
        )
    )
    clock = Clock(datetime(2025, 8, 4, 12, 0, tzinfo=UTC))
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.0, attempts=1)
    with Runtime.open(config, clock=clock) as runtime:
        runtime.poll(force=True)
        recorded = paths.FIXTURES / "feeds" / "fr-documents_2025-08_excerpt.rss"
        feed_server.add("/fr.xml", recorded.read_bytes(), etag='"recorded"')
        runtime.poll(force=True)
        assert runtime.send_digest(digest, poster).status == "sent"
    shown = blocks_text(fake_slack)
    assert "*10 new items* since Sunday 3 August, 08:00 EDT" in shown
    headings = re.findall(r"^\*([^*]+)\* \((\d+)\)$", shown, re.MULTILINE)
    assert headings == [
        ("Sanctions: OFAC designations, the SDN List and sanctions programs", "1"),
        ("Chips, chipmaking tools and the semiconductor supply chain", "1"),
        ("US trade actions: USTR, Sections 301 and 232, tariffs", "1"),
        ("Trade remedies: antidumping and countervailing duties", "2"),
        ("Other new items", "5"),
    ]
    sanctions = shown.index("*Sanctions: OFAC")
    assert sanctions < shown.index("Notice of OFAC Sanctions Actions") < shown.index("*Chips")
    other = shown[shown.index("*Other new items* (5)") :]
    for title in ("Safety Zone; Lake Michigan", "Teva Branded", "Certain Dermatological"):
        assert title in other
    assert "more: `/brief latest others" not in other  # all five shown


def _text_elements(block: Any) -> list[Any]:
    """A block's elements that are text (a context's); an actions block's buttons are not."""
    return [] if block.get("type") == "actions" else list(block.get("elements", []))
