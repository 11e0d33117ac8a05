"""The screening list end to end: a recorded CSL served on loopback, a real store, the fake Slack.

The list is today's format (tests/fixtures/screening/csl_consolidated_2025_sample13.csv,
13 real rows with `_id`). The first download becomes the snapshot; the next one,
with one entry added, one revised (a citation appended) and one removed, stores
three items of the feed "screening-list"; a watched alias of the revised entry
raises one alert, delivered to the fake Slack, naming where it appeared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.cli.shared import EXIT_OK
from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.config.schema import parse_config_text
from bot.ingest.fetch.client import Network
from bot.ingest.screening.diff import FEED_ID
from bot.models import CommandRequest
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.store.tinydb.store import TinyStore
from tests.app.test_cli import clean_env, run_cli
from tests.app.test_cli_readonly import row_of
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver

SAMPLE = Path(__file__).parents[1] / "fixtures" / "screening" / "csl_consolidated_2025_sample13.csv"
USER = "U0ANALYST01"
CHANNEL = "C0EXPORTS01"
NEW_ROW = (
    '"00000000000000000000000000000000000000000000000000000001","Entity List (EL) - Bureau of '
    'Industry and Security","","","","Hefei Core Storage Electronic Limited","","Building 5, '
    '2800 Innovation Avenue, Hefei, Anhui, CN","87 FR 77505","2022-12-19","","","For all items '
    'subject to the EAR.","Presumption of denial.","","","","","","","","https://www.bis.doc.gov/'
    'entity-list","Hefei Xinjing Electronic Co., Ltd.","","","","","","",""\n'
)


@dataclass
class World:
    runtime: Runtime
    server: FeedServer
    slack: FakeSlack
    poster: Deliverer
    config_text: str

    def ask(self, text: str, *, admin: bool = False) -> str:
        request = CommandRequest(USER, CHANNEL, text, is_admin=admin)
        reply = handle_command(self.runtime, request, poster=self.poster)
        return "\n".join(json.dumps(m.blocks, ensure_ascii=False) for m in reply.messages)

    def serve(self, body: bytes, etag: str) -> None:
        self.server.add("/csl.csv", body, etag=etag, content_type="text/csv")


def _revised(body: bytes) -> bytes:
    """The sample with one row added, one citation appended, one row (UVL) removed."""
    lines = body.decode().splitlines(keepends=True)
    kept = [line for line in lines if "Atlas Sanatgaran" not in line]
    revised = [
        line.replace('"83 FR 37423; 87 FR 77505"', '"83 FR 37423; 87 FR 77505; 89 FR 1064"')
        for line in kept
    ]
    return ("".join(revised).rstrip("\r\n") + "\n" + NEW_ROW).encode()


@pytest.fixture
def world(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> Iterator[World]:
    fake_slack.add_user(USER)
    fake_slack.add_channel(CHANNEL)
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\nfeeds: []\n"
        f"screening_list:\n  url: {feed_server.url('/csl.csv')}\n  allow_private: true\n"
    )
    config = parse_config_text(text, "test-feeds.yaml", env=backend.env())
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.01, attempts=1)
    with Runtime.open(config) as runtime:
        yield World(runtime, feed_server, fake_slack, poster, text)


def test_first_download_is_the_snapshot_then_changes_are_items_and_a_watch_alerts(
    world: World, tmp_path: Path, backend: Backend
) -> None:
    world.serve(SAMPLE.read_bytes(), '"v1"')
    world.runtime.poll(force=True)
    store = world.runtime.store
    assert store.items.count() == 0  # the first download is not thirteen "added" items
    snapshot = world.runtime.screening.snapshot()
    assert snapshot is not None and len(snapshot.entries) == 13
    # The snapshot is kept apart: state.json, written by every commit, stays small; on
    # PostgreSQL it is one row of `snapshots` that every replica reads, and no local file.
    if backend.url is None:
        assert "Sinobright" not in (tmp_path / "data" / "state.json").read_text()
        assert "Sinobright" in (tmp_path / "data" / "screening-list.json").read_text()
    else:
        assert "Sinobright" in snapshot_body(backend.url, "screening-list")
        assert not (tmp_path / "data" / "screening-list.json").exists()

    # Watching an alias takes the entry's other names from the list.
    reply = world.ask("watch CETC Research Institute 13")
    assert "Watching CETC Research Institute 13" in reply
    assert "Hebei Semiconductor Research Institute" in reply
    listed = world.ask("watches")
    assert "CETC Research Institute 13" in listed and "92/100" in listed

    # Unchanged: a conditional request, answered 304, stores nothing.
    world.runtime.poll(force=True)
    assert world.server.requests("/csl.csv")[-1].header("If-None-Match") == '"v1"'
    assert store.items.count() == 0

    world.serve(_revised(SAMPLE.read_bytes()), '"v2"')
    world.runtime.poll(force=True)
    items = list(store.items.after(feed_ids=[FEED_ID]))
    titles = sorted(item.title for item in items)
    assert titles == [
        "Added to the Entity List (EL): Hefei Core Storage Electronic Limited (China)",
        "Changed on the Entity List (EL): China Electronics Technology Group Corporation 13th "
        "Research Institute (CETC 13) (China)",
        "Removed from the Unverified List (UVL): Atlas Sanatgaran (Armenia)",
    ]
    changed = next(i for i in items if i.title.startswith("Changed"))
    assert "Changed: Federal Register citations." in changed.summary
    assert changed.extras["screening"]["citations"][-1] == "89 FR 1064"

    report = world.runtime.dispatch_alerts(world.poster)
    assert report.messages == 1
    [alert] = world.slack.messages()
    shown = json.dumps(alert.blocks)
    assert "China Electronics Technology Group Corporation 13th" in shown
    assert "watch CETC Research Institute 13" in shown
    assert "on the screening list (changed)" in shown
    # Exactly one: the next poll (304) and dispatch send nothing more.
    world.runtime.poll(force=True)
    world.runtime.dispatch_alerts(world.poster)
    assert len(world.slack.messages()) == 1


def test_entity_lists_the_list_entries_and_changes(world: World) -> None:
    world.serve(SAMPLE.read_bytes(), '"v1"')
    world.runtime.poll(force=True)
    world.serve(_revised(SAMPLE.read_bytes()), '"v2"')
    world.runtime.poll(force=True)
    shown = world.ask("entity hebei semiconductor research institute")
    assert "Changed on the Entity List (EL): China Electronics Technology Group" in shown
    assert "On the screening list (EL) since 2018-08-01" in shown
    assert "83 FR 37423, 87 FR 77505, 89 FR 1064" in shown
    nothing = world.ask("entity Acme Widgets")
    assert "appears in no stored Entity List rule" in nothing


def test_a_broken_download_keeps_the_snapshot_and_stores_nothing(world: World) -> None:
    world.serve(SAMPLE.read_bytes(), '"v1"')
    world.runtime.poll(force=True)
    world.serve(b"<html><body>Maintenance</body></html>", '"v2"')
    world.runtime.poll(force=True)
    snapshot = world.runtime.screening.snapshot()
    assert snapshot is not None and len(snapshot.entries) == 13
    assert world.runtime.store.items.count() == 0
    state = world.runtime.store.feed_states.get(FEED_ID)
    assert state is not None and state.consecutive_failures == 1
    assert state.last_error is not None and "not a Consolidated Screening List" in state.last_error


def test_status_shows_the_screening_lists_health(world: World) -> None:
    """`/brief status` lists the screening list beside the feeds: last success, entries kept."""
    world.serve(SAMPLE.read_bytes(), '"v1"')
    world.runtime.poll(force=True)
    shown = world.ask("status")
    assert "*Consolidated Screening List* `screening-list` · updated " in shown
    assert "13 entries in the snapshot" in shown
    world.serve(b"<html><body>Maintenance</body></html>", '"v2"')
    world.runtime.poll(force=True)
    shown = world.ask("status")
    assert "*Consolidated Screening List* `screening-list` · failing since " in shown
    assert "(1 failure)" in shown and "not a Consolidated Screening List" in shown
    assert "13 entries in the snapshot" in shown, "the last good snapshot is still used"


def test_briefbot_status_shows_the_screening_list(
    world: World, tmp_path: Path, backend: Backend
) -> None:
    world.serve(SAMPLE.read_bytes(), '"v1"')
    world.runtime.poll(force=True)
    config = tmp_path / "feeds.yaml"
    config.write_text(world.config_text)
    result = run_cli("--config", str(config), "status", env=backend.env(clean_env()))
    assert result.returncode == EXIT_OK, result.stderr
    cells = row_of(result.stdout, "screening-list")
    # feed, status, last success, failures, items stored, next poll, error / warning
    assert (cells[1], cells[3], cells[4]) == ("ok", "0", "0")
    assert "13 entries in the snapshot" in result.stdout
    result = run_cli("--config", str(config), "status", "--json", env=backend.env(clean_env()))
    listed = {feed["id"]: feed for feed in json.loads(result.stdout)["feeds"]}
    assert listed[FEED_ID]["status"] == "ok"
    assert listed[FEED_ID]["snapshot_entries"] == 13


def test_unwatch_by_name_and_watch_for_a_channel_needs_an_admin(world: World) -> None:
    assert "Watching Huawei" in world.ask("watch Huawei")
    assert "already watched" in world.ask("watch HUAWEI")
    refused = world.ask(f"watch <#{CHANNEL}|exports> Huawei")
    assert "Only admins can watch a name for a channel" in refused
    assert "Watching Huawei" in world.ask(f"watch <#{CHANNEL}|exports> Huawei", admin=True)
    assert "No longer watching Huawei" in world.ask("unwatch huawei")
    assert "This channel's watches" in world.ask("watches")


def test_entity_list_is_still_a_question(world: World) -> None:
    shown = world.ask("entity list since:30d")
    assert "appears in no stored Entity List rule" not in shown


def test_a_csl_url_resolving_to_a_private_address_is_refused_at_connect_time(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """The list's host resolves to loopback (DNS rebinding, a poisoned answer): with the bot's
    own policy (public only) no connection is made and the list's health says why."""
    feed_server.add("/csl.csv", SAMPLE.read_bytes(), etag='"v1"', content_type="text/csv")
    port = feed_server.url("/").split(":")[2].split("/")[0]
    config = parse_config_text(
        f"settings:\n  data_dir: {tmp_path / 'data'}\nfeeds: []\n"
        f"screening_list:\n  url: http://csl.example.org:{port}/csl.csv\n",
        "test-feeds.yaml",
        env={},
    )
    public_only = Network(resolver=FakeResolver({"csl.example.org": ["127.0.0.1"]}))
    with Runtime(config, TinyStore.open(tmp_path / "data"), network=public_only) as runtime:
        report = runtime.poll_screening_list(force=True)
        state = runtime.store.feed_states.get(FEED_ID)
        assert runtime.screening.snapshot() is None
    assert feed_server.requests("/csl.csv") == [], "no connection reached the server"
    assert report is not None and report.status == "error"
    assert report.error is not None and "127.0.0.1" in report.error and "loopback" in report.error
    assert state is not None and state.consecutive_failures == 1


def snapshot_body(url: str, name: str) -> str:
    """The named document of the database's `snapshots` table, as text ("" when absent)."""
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("SELECT body FROM snapshots WHERE name = %s", (name,)).fetchone()
    return bytes(row[0]).decode() if row else ""
