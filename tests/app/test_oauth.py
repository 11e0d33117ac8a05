"""Many workspaces: `briefbot run` installed in two workspaces through Slack's OAuth.

The service (bot.app.service.run_service, in this process so that the secret
scanner sees every log record at DEBUG) runs in HTTP mode on a real
PostgreSQL, against the fake Slack, which answers `oauth.v2.access` per
install code with a different team and bot token. Each workspace is
installed through the real redirect flow (`/slack/install`, its state cookie,
`/slack/oauth_redirect`); then signed `/brief` commands from each team show
that each sees only its own subscriptions and search results, and the
scheduled poll's alerts go to each workspace with that workspace's token.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
import yaml

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.app.service import EXIT_OK, EXIT_USAGE, run_service
from bot.config.schema import load_config
from bot.models import CommandRequest
from bot.store.postgres.store import PgStore
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet
from tests.support.responseurl import ResponseUrlServer
from tests.support.secretscan import (
    CLIENT_SECRET,
    OTHER_SECRET_KEY,
    SECRET_KEY,
    SIGNING_SECRET,
    WORKSPACE_A_TOKEN,
    WORKSPACE_B_TOKEN,
)
from tests.support.slackhttp import command_form, sign

ALPHA, BETA = "T0ALPHA01", "T0BETA002"
ADMIN_A, ADMIN_B = "U0ADMINA1", "U0ADMINB2"
_LISTENING = re.compile(r"listening on ([0-9.]+):(\d+)/slack/events")


def write_config(tmp_path: Path, shared_url: str) -> Path:
    doc: dict[str, Any] = {
        "settings": {
            "data_dir": str(tmp_path / "data"),
            # Long enough for a poll held at the feed server while the test sets up.
            "connect_timeout": 2,
            "read_timeout": 60,
            "total_timeout": 60,
        },
        "feeds": [{"id": "shared", "url": shared_url, "interval": "1m", "allow_private": True}],
        "admins": [ADMIN_A, ADMIN_B],
    }
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def oauth_env(fake_slack: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "SLACK_API_URL": fake_slack.url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CLIENT_ID": fake_slack.client_id,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "BRIEFBOT_SECRET_KEY": SECRET_KEY,
        "BRIEFBOT_DATABASE_URL": database_url,
        **extra,
    }


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode(), response.headers
    finally:
        connection.close()


def post_signed(port: int, body: bytes, content_type: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": content_type, **sign(body)}
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def install(port: int, code: str) -> str:
    """Install the app as a browser does: the install page, then Slack's redirect back."""
    status, page, headers = get(port, "/slack/install")
    assert status == 200, page
    found = re.search(r"state=([A-Za-z0-9_\-]+)", page)
    assert found is not None, page
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    assert cookie.startswith("slack-app-oauth-state="), headers
    query = urlencode({"code": code, "state": found[1]})
    status, page, _ = get(port, f"/slack/oauth_redirect?{query}", {"Cookie": cookie})
    assert status == 200, page
    return page


class Commands:
    """Signed `/brief` commands from a team, each answered at its own response_url."""

    def __init__(self, port: int, responses: ResponseUrlServer) -> None:
        self.port = port
        self.responses = responses
        self.count = 0

    def __call__(self, team: str, user: str, text: str, *, channel: str = "") -> str:
        self.count += 1
        name = f"c{self.count}"
        form = command_form(
            text,
            self.responses.url(name),
            team_id=team,
            user_id=user,
            channel_id=channel or f"C0{team}",
        )
        body = urlencode(form).encode()
        assert post_signed(self.port, body, "application/x-www-form-urlencoded") == 200
        return "\n".join(reply.everything for reply in self.responses.wait(name, timeout=20))


def prepare(config_path: Path, env: dict[str, str], feed_server: FeedServer) -> None:
    """What the two workspaces' admins set up earlier: a feed each, and the shared feed polled.

    Run through the real command path with a network that reaches the loopback feed
    server by name (a feed added from Slack may not reach loopback otherwise); the
    feeds are paused afterwards, so the service does not fetch them by name. The
    shared feed was polled two minutes ago: it is due when the service starts.
    """
    config = load_config(config_path, env=env)
    resolver = FakeResolver({"alpha.example": ["127.0.0.1"], "beta.example": ["127.0.0.1"]})
    then = datetime.now(UTC) - timedelta(minutes=2)
    store = PgStore.open(env["BRIEFBOT_DATABASE_URL"])
    with Runtime(config, store, clock=lambda: then, network=loopback_internet(resolver)) as rt:
        [report] = rt.poll()
        assert report.status == "ok", report
        for team, admin, host in ((ALPHA, ADMIN_A, "alpha"), (BETA, ADMIN_B, "beta")):
            url = feed_server.url(f"/{host}.rss").replace("127.0.0.1", f"{host}.example")

            def run(text: str, team: str = team, admin: str = admin) -> str:
                request = CommandRequest(admin, f"C0{team}", text, team_id=team)
                return "\n".join(m.text for m in handle_command(rt, request).messages)

            run(f"feed add {url}")
            [feed_id] = [
                i for i, o in rt.store.overrides.feeds().items() if o.team_id == team and o.added
            ]
            assert "1 stored" in run(f"feed poll {feed_id}")
            run(f"feed pause {feed_id}")


@pytest.fixture
def responses() -> Iterator[ResponseUrlServer]:
    server = ResponseUrlServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def service(
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Callable[[dict[str, str], Path], int]]:
    """Starts run_service in a thread; returns its HTTP port. Stopped after the test."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    statuses: list[int] = []
    caplog.set_level(logging.INFO)

    def start(env: dict[str, str], config_path: Path) -> int:
        config = load_config(config_path, env=env)
        thread = threading.Thread(
            target=lambda: statuses.append(
                run_service(config, port=0, stop=stop, install_signal_handlers=False)
            ),
            daemon=True,
        )
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for record in list(caplog.records):
                found = _LISTENING.search(record.getMessage())
                if found:
                    return int(found[2])
            assert thread.is_alive(), f"the service stopped: {statuses} {caplog.text}"
            time.sleep(0.05)
        pytest.fail(f"the service did not listen within 30 s: {caplog.text}")

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=20)
    assert statuses == [EXIT_OK] * len(threads), caplog.text


def test_two_workspaces_installed_by_oauth_see_only_their_own_data_and_get_their_alerts(
    tmp_path: Path,
    database_url: str,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    responses: ResponseUrlServer,
    service: Callable[[dict[str, str], Path], int],
) -> None:
    fake_slack.client_secret = CLIENT_SECRET
    fake_slack.add_workspace("code-alpha", ALPHA, WORKSPACE_A_TOKEN, team_name="Alpha Inc")
    fake_slack.add_workspace("code-beta", BETA, WORKSPACE_B_TOKEN, team_name="Beta Ltd")
    shared = [Entry("Weekly trade digest", "https://example.org/shared/1", guid="s1")]
    feed_server.add("/shared.rss", make_rss(shared))
    feed_server.add(
        "/alpha.rss",
        make_rss([Entry("Alpha semiconductor rule", "https://example.org/a/1", guid="a1")]),
    )
    feed_server.add(
        "/beta.rss",
        make_rss([Entry("Beta semiconductor rule", "https://example.org/b/1", guid="b1")]),
    )
    config_path = write_config(tmp_path, feed_server.url("/shared.rss"))
    env = oauth_env(fake_slack, database_url)
    prepare(config_path, env, feed_server)
    # The service's first poll of the shared feed (at its start: the feed is due) waits
    # at the feed server until both workspaces are set up and the news is there.
    poll_let_through = threading.Event()
    feed_server.add("/shared.rss", make_rss(shared), hold=poll_let_through)

    port = service(env, config_path)
    install(port, "code-alpha")
    install(port, "code-beta")
    brief = Commands(port, responses)

    assert "Subscribed" in brief(ALPHA, ADMIN_A, "subscribe chips")
    assert "Subscribed" in brief(BETA, ADMIN_B, 'subscribe "export controls"')
    listed_a = brief(ALPHA, ADMIN_A, "subscriptions all")
    listed_b = brief(BETA, ADMIN_B, "subscriptions all")
    assert "chips" in listed_a and "export controls" not in listed_a
    assert "export controls" in listed_b and "chips" not in listed_b
    found_a = brief(ALPHA, ADMIN_A, "search semiconductor")
    found_b = brief(BETA, ADMIN_B, "search semiconductor")
    assert "Alpha semiconductor rule" in found_a and "Beta semiconductor" not in found_a
    assert "Beta semiconductor rule" in found_b and "Alpha semiconductor" not in found_b

    # News on the shared feed, fetched once, matching both workspaces' subscriptions.
    news = Entry("New export controls on advanced chips", "https://example.org/s/2", guid="s2")
    feed_server.add("/shared.rss", make_rss([news, *shared]))
    poll_let_through.set()
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and len(fake_slack.calls("chat.postMessage")) < 2:
        time.sleep(0.1)
    posts = fake_slack.calls("chat.postMessage")
    assert sorted(str(call.params.get("channel")) for call in posts) == [
        f"D{ADMIN_A}",
        f"D{ADMIN_B}",
    ], posts
    for call in posts:
        expected = (
            WORKSPACE_A_TOKEN if call.params["channel"] == f"D{ADMIN_A}" else WORKSPACE_B_TOKEN
        )
        assert call.token == expected
        assert "New export controls on advanced chips" in json.dumps(call.params)
    fetches = [r for r in feed_server.requests() if r.path == "/shared.rss"]
    assert len(fetches) <= 3  # once per poll, not once per workspace

    # The tokens are sealed at rest: nothing in the database shows them.
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT team_id, sealed FROM slack_installations").fetchall()
    assert sorted(team for team, _ in rows) == [ALPHA, BETA]
    for _, sealed in rows:
        assert b"xoxb-" not in bytes(sealed)


def test_a_workspace_that_uninstalls_gets_nothing_more(
    tmp_path: Path,
    database_url: str,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    responses: ResponseUrlServer,
    service: Callable[[dict[str, str], Path], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_slack.client_secret = CLIENT_SECRET
    fake_slack.add_workspace("code-beta", BETA, WORKSPACE_B_TOKEN)
    old_news = make_rss([Entry("Old news", "https://example.org/o")])
    feed_server.add("/shared.rss", old_news)
    feed_server.add("/alpha.rss", make_rss([Entry("A", "https://example.org/a")]))
    feed_server.add("/beta.rss", make_rss([Entry("B", "https://example.org/b")]))
    config_path = write_config(tmp_path, feed_server.url("/shared.rss"))
    env = oauth_env(fake_slack, database_url)
    prepare(config_path, env, feed_server)
    # The service's first poll of the shared feed waits at the feed server until the
    # workspace is gone and the news is there.
    poll_let_through = threading.Event()
    feed_server.add("/shared.rss", old_news, hold=poll_let_through)
    port = service(env, config_path)
    install(port, "code-beta")
    brief = Commands(port, responses)
    assert "Subscribed" in brief(BETA, ADMIN_B, "subscribe chips")

    event = {
        "type": "event_callback",
        "team_id": BETA,
        "api_app_id": "A0FAKEAPP",
        "event_id": "Ev0UNINSTALL",
        "event_time": int(time.time()),
        "event": {"type": "app_uninstalled", "event_ts": "1.0"},
    }
    assert post_signed(port, json.dumps(event).encode(), "application/json") == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            left = conn.execute("SELECT count(*) FROM slack_installations").fetchone()
        if left == (0,):
            break
        time.sleep(0.1)
    assert left == (0,)

    news = Entry("New chips rule", "https://example.org/s/2", guid="s2")
    feed_server.add("/shared.rss", make_rss([news]))
    poll_let_through.set()
    refused = f"briefbot is not installed in workspace {BETA}"
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and refused not in caplog.text:
        time.sleep(0.1)
    assert refused in caplog.text  # the alert was dropped, said once in the log
    assert fake_slack.calls("chat.postMessage") == []
    assert fake_slack.calls("conversations.open") == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"SLACK_APP_TOKEN": "xapp-1-A0FAKEAPP-1-" + "s0cketM0deT0ken" * 2}, "Socket Mode"),
        ({"BRIEFBOT_DATABASE_URL": ""}, "BRIEFBOT_DATABASE_URL"),
        ({"BRIEFBOT_SECRET_KEY": ""}, "BRIEFBOT_SECRET_KEY is not set"),
        ({"BRIEFBOT_SECRET_KEY": "not-a-fernet-key-at-all"}, "is not a key briefbot can use"),
    ],
    ids=["socket-mode", "no-database", "no-key", "malformed-key"],
)
def test_a_distributed_bot_refuses_to_start_without_what_it_needs(
    extra: dict[str, str],
    expected: str,
    tmp_path: Path,
    database_url: str,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config_path = write_config(tmp_path, "https://example.org/feed.rss")
    config = load_config(config_path, env=oauth_env(fake_slack, database_url, **extra))
    assert run_service(config, port=0, install_signal_handlers=False) == EXIT_USAGE
    assert expected in caplog.text


def test_a_wrong_secret_key_is_refused_at_start_up(
    tmp_path: Path, database_url: str, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    config_path = write_config(tmp_path, "https://example.org/feed.rss")
    stop = threading.Event()
    stop.set()  # starts, seals the key check with SECRET_KEY, stops at once
    first = load_config(config_path, env=oauth_env(fake_slack, database_url))
    assert run_service(first, port=0, stop=stop, install_signal_handlers=False) == EXIT_OK
    other = oauth_env(fake_slack, database_url, BRIEFBOT_SECRET_KEY=OTHER_SECRET_KEY)
    config = load_config(config_path, env=other)
    assert run_service(config, port=0, install_signal_handlers=False) == EXIT_USAGE
    assert "BRIEFBOT_SECRET_KEY is not the key" in caplog.text
