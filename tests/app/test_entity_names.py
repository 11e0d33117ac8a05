"""Named entities of an Entity List rule, end to end: loopback feeds, a real store, the fake Slack.

A BIS rule arrives in a feed; its Federal Register facts (`extras["federal_register"]`)
are what the fr-enrich work adds after the poll that stored it, so the test writes
them as that step would. The next poll names the rule's entities: from the CSL rows
citing it when the screening list is configured (the recorded 2018 list and
83 FR 37423, which added 44 entities in China), else from the rule's own XML
(a constructed fixture in the GPO element structure: tests/fixtures/screening/README.md),
served on loopback and fetched through the feeds' fetcher.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import DigestConfig, SlackSecrets
from bot.config.schema import parse_config_text
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.ingest.fetch.client import Network
from bot.ingest.screening.entities import RuleEntities
from bot.models import CommandRequest, Item
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.store.tinydb.store import TinyStore
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet

FIXTURES = Path(__file__).parents[1] / "fixtures" / "screening"
USER = "U0ANALYST01"
CHANNEL = "C0EXPORTS01"
OLD = Entry("Older notice", "https://example.org/old", guid="old")
RULE = Entry(
    "Additions to the Entity List; Revision of Existing Entry on the Entity List",
    "https://www.federalregister.gov/documents/2022/12/19/2022-27151",
    guid="2022-27151",
    summary=(
        "In this rule, the Bureau of Industry and Security (BIS) amends the Export "
        "Administration Regulations (EAR) by adding 4 entities to the Entity List, under "
        "the destinations of China (3) and Japan (1)."
    ),
)


@dataclass
class World:
    runtime: Runtime
    server: FeedServer
    slack: FakeSlack
    poster: Deliverer

    def ask(self, text: str) -> str:
        reply = handle_command(
            self.runtime, CommandRequest(USER, CHANNEL, text), poster=self.poster
        )
        return "\n".join(json.dumps(m.blocks, ensure_ascii=False) for m in reply.messages)

    def publish_rule(self, citation: str) -> Item:
        """The rule arrives, then gets its FR facts as the enrichment step would give them."""
        return publish_rule(self.runtime, self.server, citation, self.server.url("/rule.xml"))


def publish_rule(runtime: Runtime, server: FeedServer, citation: str, xml_url: str) -> Item:
    """The rule arrives in the feed; its facts (citation, XML URL) are written as the
    enrichment writes them after the poll that stored it."""
    server.add("/bis.rss", make_rss([RULE, OLD]))
    runtime.poll(force=True)
    [rule] = [i for i in runtime.store.items.after() if i.id and not i.backlog]
    facts = FederalRegisterFacts(
        document_number="2022-27151", type="Rule", citation=citation, full_text_xml_url=xml_url
    )
    with runtime.store.transaction() as tx:
        tx.items.update_extras(rule.feed_id, rule.id, {"federal_register": facts.as_extras()})
    return rule


def _world(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, screening: str, backend: Backend
) -> Iterator[World]:
    fake_slack.add_user(USER)
    fake_slack.add_channel(CHANNEL)
    feed_server.add("/bis.rss", make_rss([OLD]))
    config = parse_config_text(
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        f"feeds:\n  - id: fr-bis\n    url: {feed_server.url('/bis.rss')}\n"
        f"    allow_private: true\n{screening}",
        "test-feeds.yaml",
        env=backend.env(),
    )
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.01, attempts=1)
    network = loopback_internet(FakeResolver({}))
    with Runtime.open(config, network=network) as runtime:
        runtime.poll(force=True)  # the first poll: backlog
        yield World(runtime, feed_server, fake_slack, poster)


def _open_store(tmp_path: Path) -> TinyStore:
    return TinyStore.open(tmp_path / "data")


@pytest.fixture
def from_xml(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> Iterator[World]:
    yield from _world(feed_server, fake_slack, tmp_path, "", backend)


@pytest.fixture
def from_csl(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> Iterator[World]:
    feed_server.add("/csl.csv", (FIXTURES / "csl_2018-12-04_subset.csv").read_bytes())
    screening = f"screening_list:\n  url: {feed_server.url('/csl.csv')}\n  allow_private: true\n"
    yield from _world(feed_server, fake_slack, tmp_path, screening, backend)


def test_names_from_the_rule_xml_and_a_watched_alias_alerts_once(from_xml: World) -> None:
    world = from_xml
    world.server.add("/rule.xml", (FIXTURES / "el_rule_2022-27151_constructed.xml").read_bytes())
    assert "Watching YMTC" in world.ask("watch YMTC")
    rule = world.publish_rule("87 FR 77505")
    world.runtime.dispatch_alerts(world.poster)  # the rule's title names nobody watched
    assert world.slack.messages() == []

    world.runtime.poll(force=True)
    stored = world.runtime.store.items.get(rule.feed_id, rule.id)
    assert stored is not None
    named = RuleEntities.of(stored.extras)
    assert named is not None and named.source == "federal-register-xml"
    assert len(named.by_action("added")) == 4
    assert [e.name for e in named.by_action("removed")] == ["Beijing Example Trading Co."]

    world.runtime.dispatch_alerts(world.poster)
    [alert] = world.slack.messages()
    shown = json.dumps(alert.blocks)
    assert "4 entities added: China 3: Hefei Core Storage Electronic Limited" in shown
    assert "Japan 1: Yangtze Memory Technologies Japan" in shown
    assert (
        "watch YMTC" in shown
        and "among the entities of 87 FR 77505: Yangtze Memory Technologies Co., Ltd. "
        "(China, added)"
        in shown
    )
    # Named once: later polls neither fetch the XML again nor alert again.
    fetched = len(world.server.requests("/rule.xml"))
    world.runtime.poll(force=True)
    world.runtime.dispatch_alerts(world.poster)
    assert len(world.server.requests("/rule.xml")) == fetched == 1
    assert len(world.slack.messages()) == 1
    # /brief entity finds the rule by an alias.
    found = world.ask("entity YMTC")
    assert "87 FR 77505 · added under China as Yangtze Memory Technologies Co., Ltd." in found


def test_names_from_the_csl_first_names_in_the_digest_the_rest_in_the_thread(
    from_csl: World,
) -> None:
    world = from_csl
    rule = world.publish_rule("83 FR 37423")
    world.runtime.poll(force=True)
    stored = world.runtime.store.items.get(rule.feed_id, rule.id)
    assert stored is not None
    named = RuleEntities.of(stored.extras)
    assert named is not None and named.source == "csl"
    assert len(named.entities) == 45
    assert world.server.requests("/rule.xml") == []  # the list had them: no XML fetched

    digest = DigestConfig(
        channel=CHANNEL, at=datetime(2026, 1, 1, 8, tzinfo=UTC).timetz(), timezone="UTC"
    )
    _, messages = world.runtime.build_digest(digest)
    first = json.dumps([m.blocks for m in messages if not m.in_thread])
    assert "44 entities added: China 44: China Aerospace Science and Industry Corporation " in first
    assert "and 41 more" in first
    thread = [m for m in messages if m.in_thread]
    details = json.dumps([m.blocks for m in thread])
    assert "Every entity named by" in details
    assert "Hebei Far East Communication System Engineering" in details
    assert all(len(json.dumps(b)) < 3500 for m in thread for b in m.blocks)


def test_a_watch_hit_after_a_subscriptions_alert_on_the_same_rule_is_alerted_once(
    from_xml: World,
) -> None:
    """The subscription's alert went out when the rule arrived; the watched name appears
    only when the rule's entities are named (a later poll): it gets its own alert, once."""
    world = from_xml
    world.server.add("/rule.xml", (FIXTURES / "el_rule_2022-27151_constructed.xml").read_bytes())
    assert "Watching YMTC" in world.ask("watch YMTC")
    assert "Subscribed" in world.ask('subscribe "entity list"')
    world.publish_rule("87 FR 77505")
    world.runtime.dispatch_alerts(world.poster)
    [by_subscription] = world.slack.messages()
    assert "entity list" in json.dumps(by_subscription.blocks)
    assert "watch YMTC" not in json.dumps(by_subscription.blocks)

    world.runtime.poll(force=True)  # names the rule's entities: YMTC is among them
    world.runtime.dispatch_alerts(world.poster)
    messages = world.slack.messages()
    assert len(messages) == 2, [json.dumps(m.blocks)[:300] for m in messages]
    by_watch = json.dumps(messages[1].blocks)
    assert "watch YMTC" in by_watch
    assert "among the entities of 87 FR 77505: Yangtze Memory Technologies Co., Ltd." in by_watch

    # Never twice: later polls, and the match replayed from the start (a cursor moved back,
    # a restored backup), queue nothing for the subscription or the watch.
    world.runtime.poll(force=True)
    with world.runtime.store.transaction() as tx:
        tx.alerts.set_match_cursor(0)
        world.runtime.match_new_items(tx)
    assert world.runtime.store.alerts.pending_count() == 0
    world.runtime.dispatch_alerts(world.poster)
    assert len(world.slack.messages()) == 2


def test_a_rule_xml_url_resolving_to_a_private_address_is_refused_at_connect_time(
    feed_server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The rule's XML URL names a host that resolves to loopback (DNS rebinding, a poisoned
    answer): with the bot's own policy (public only) no connection is made, and the rule
    stays unnamed, to be tried again."""
    feed_server.add("/bis.rss", make_rss([OLD]))
    feed_server.add("/rule.xml", (FIXTURES / "el_rule_2022-27151_constructed.xml").read_bytes())
    config = parse_config_text(
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        f"feeds:\n  - id: fr-bis\n    url: {feed_server.url('/bis.rss')}\n"
        "    allow_private: true\n",
        "test-feeds.yaml",
        env={},
    )
    port = feed_server.url("/").split(":")[2].split("/")[0]
    public_only = Network(resolver=FakeResolver({"rules.example.org": ["127.0.0.1"]}))
    with Runtime(config, _open_store(tmp_path), network=public_only) as runtime:
        runtime.poll(force=True)
        xml_url = f"http://rules.example.org:{port}/rule.xml"
        rule = publish_rule(runtime, feed_server, "87 FR 77505", xml_url)
        with caplog.at_level(logging.WARNING):
            runtime.poll(force=True)
        stored = runtime.store.items.get(rule.feed_id, rule.id)
    assert feed_server.requests("/rule.xml") == [], "no connection reached the server"
    assert stored is not None and RuleEntities.of(stored.extras) is None
    refused = [
        r.getMessage() for r in caplog.records if "its XML could not be fetched" in r.message
    ]
    assert refused and "127.0.0.1" in refused[0] and "loopback" in refused[0], refused
