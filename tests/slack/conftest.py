"""Fixtures the Slack tests share: a Runtime, the secrets, the HTTP app, a Socket Mode server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.config.schema import parse_config_text
from bot.slack.app import build_app
from bot.slack.http import ServerHandle, serve_http
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.secretscan import SIGNING_SECRET
from tests.support.slackhttp import Recorder, answer_with
from tests.support.wsserver import SocketModeServer

ENTITY_TITLE = "Additions to the Entity List: YMTC Japan subsidiary"


@pytest.fixture
def runtime(tmp_path: Path, feed_server: FeedServer, backend: Backend) -> Iterator[Runtime]:
    """A real Runtime on a fresh store (both backends), holding one Entity List story."""
    feed_server.add(
        "/bis.xml",
        make_rss(
            [
                Entry(ENTITY_TITLE, "https://www.federalregister.gov/d/2024-01234"),
                Entry("Chips 4 working group meets in Taipei", "https://example.org/chips4"),
            ]
        ),
    )
    text = (
        "settings:\n"
        f"  data_dir: {tmp_path / 'data'}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        "feeds:\n"
        f"  - id: fr-bis\n    url: {feed_server.url('/bis.xml')}\n    allow_private: true\n"
        "topics:\n"
        "  - id: entity-list\n    query: '\"entity list\"'\n"
        "admins: [U0123456789]\n"
    )
    rt = Runtime.open(parse_config_text(text, "test-feeds.yaml", env=backend.env()))
    try:
        [report] = rt.poll(force=True)
        assert report.status == "ok", report
        yield rt
    finally:
        rt.close()


@pytest.fixture
def secrets(fake_slack: FakeSlack) -> SlackSecrets:
    return SlackSecrets(
        bot_token=fake_slack.token, signing_secret=SIGNING_SECRET, api_url=fake_slack.url
    )


@pytest.fixture
def socket_server() -> Iterator[SocketModeServer]:
    with SocketModeServer() as server:
        yield server
    assert not server.errors, server.errors


@pytest.fixture
def recorder(runtime: Runtime) -> Recorder:
    return Recorder(answer_with(runtime))


@pytest.fixture
def http_app(runtime: Runtime, secrets: SlackSecrets, recorder: Recorder) -> Iterator[ServerHandle]:
    app = build_app(secrets, recorder)
    server = serve_http(app, port=0, host="127.0.0.1")
    try:
        yield server
    finally:
        server.stop()
