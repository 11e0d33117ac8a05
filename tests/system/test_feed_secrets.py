"""Feed URL credentials (user:password@, ?api_key=, ?token=) stay out of everything people see.

A loopback publisher wants HTTP basic credentials and an `?api_key=` for its
feed; a second feed's redirects loop with a `?token=` in every URL; a third
redirects (`?access_token=`) to a page that is gone (`?sig=`). Real polls run
in-process (`Runtime.poll`, every logger at DEBUG), as `briefbot -v poll`, as
`briefbot poll` with every library logging at DEBUG, and as `briefbot run`;
then each test looks where a person or a program would: every log record,
stdout and stderr, `state.json` on disk, the `/brief status` and `/brief feed
poll` replies, `briefbot status` (table and JSON). Each also checks what is
shown instead (`api_key=***`), so a poll that never reached the feed, or a
log that was never written, cannot pass. The suite's detector
(tests/support/secretscan.py) scans the same places and more.

Not obvious: feeds.yaml holds the credentials (an operator's does), so it is
written outside the test's tmp_path, which the detector scans; the data
directory, and the service's logs, are inside it. The test of an error stored
by an older version keeps that data directory outside tmp_path for the same
reason: it holds the raw secret on purpose.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.app.service import EXIT_OK
from bot.config.schema import load_config
from bot.models import CommandRequest, FeedState
from bot.store.tinydb.store import TinyStore
from tests.app.commands.cases import ADMIN, CHANNEL, MEMBER
from tests.app.test_cli import clean_env, run_cli
from tests.app.test_service import Service, service_env, wait_for
from tests.support import paths
from tests.support.backends import Backend, stored_text
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import (
    FEED_API_KEY,
    FEED_PASSWORD,
    FEED_TOKEN,
    FEED_USER,
    find_leaks,
    record_output,
)

PRIVATE = f"/private.xml?api_key={FEED_API_KEY}"
LOOP_A = f"/loop.xml?token={FEED_TOKEN}"
LOOP_B = f"/loop-b.xml?token={FEED_TOKEN}"
MOVED = f"/moved.xml?access_token={FEED_TOKEN}"
GONE = f"/gone.xml?sig={FEED_TOKEN}"


def shown(path: str) -> str:
    return path.replace(FEED_API_KEY, "***").replace(FEED_TOKEN, "***")


@dataclass(frozen=True)
class SecretFeeds:
    """The three feeds' configuration and what their polls must say."""

    config: Path  # feeds.yaml, outside tmp_path
    data: Path
    origin: str  # http://127.0.0.1:PORT

    @property
    def loop_error(self) -> str:
        a, b = self.origin + shown(LOOP_A), self.origin + shown(LOOP_B)
        return f"redirect loop: {a} -> {b} -> {a}"

    @property
    def moved_error(self) -> str:
        return f"HTTP 404 Not Found from {self.origin}{shown(GONE)}"

    @property
    def request_line(self) -> str:
        """The fetcher's DEBUG line for the private feed's request, as it must be logged."""
        return f"feed private: GET {self.origin}{shown(PRIVATE)}: HTTP 200"

    @property
    def loop_line(self) -> str:
        """The fetcher's DEBUG line for the loop's second hop (its URL carries a token)."""
        return f"feed loop: GET {self.origin}{shown(LOOP_B)}: HTTP 302"


def write_config(folder: Path, server: FeedServer, data: Path) -> Path:
    private = server.url(PRIVATE).replace("http://", f"http://{FEED_USER}:{FEED_PASSWORD}@", 1)
    feeds = {"private": private, "loop": server.url(LOOP_A), "moved": server.url(MOVED)}
    doc: dict[str, Any] = {
        "settings": {
            "data_dir": str(data),
            "connect_timeout": 2,
            "read_timeout": 2,
            "total_timeout": 5,
        },
        "feeds": [
            {"id": fid, "url": url, "interval": "1m", "allow_private": True}
            for fid, url in feeds.items()
        ],
        "admins": [ADMIN],
    }
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def secret_feeds(
    feed_server: FeedServer, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> SecretFeeds:
    body = make_rss(numbered_entries(1, 3))
    feed_server.add(PRIVATE, body, basic_auth=(FEED_USER, FEED_PASSWORD))
    feed_server.add(LOOP_A, redirect_to=LOOP_B)
    feed_server.add(LOOP_B, redirect_to=LOOP_A)
    feed_server.add(MOVED, redirect_to=GONE)
    config = write_config(tmp_path_factory.mktemp("operator"), feed_server, tmp_path / "data")
    return SecretFeeds(config, tmp_path / "data", feed_server.origin)


def reply_text(runtime: Runtime, text: str, *, user: str = MEMBER) -> str:
    """A `/brief` reply's mrkdwn as sent to Slack (`***` would lose its stars when read)."""
    reply = handle_command(runtime, CommandRequest(user, CHANNEL, text))
    return "\n".join(json.dumps(m.blocks, ensure_ascii=False) for m in reply.messages)


def in_mrkdwn(text: str) -> str:
    """`text` as escaped in a JSON-encoded mrkdwn block."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return json.dumps(escaped, ensure_ascii=False)[1:-1]


def leaks_in(**texts: str) -> list[str]:
    return [leak.describe() for where, text in texts.items() for leak in find_leaks(where, text)]


def test_a_poll_leaves_no_feed_credential_in_logs_state_or_replies(
    secret_feeds: SecretFeeds, caplog: pytest.LogCaptureFixture, backend: Backend
) -> None:
    caplog.set_level(logging.DEBUG)
    with Runtime.open(load_config(secret_feeds.config, env=backend.env())) as runtime:
        reports = {r.feed_id: r for r in runtime.poll(force=True)}
        status = reply_text(runtime, "status")
        polled = reply_text(runtime, "feed poll", user=ADMIN)
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records)
    # The feed states as stored: state.json, or every table of the database.
    if backend.url is None:
        state = (secret_feeds.data / "state.json").read_text("utf-8")
    else:
        state = stored_text(backend.url)

    # The publisher got its credentials and key: the items were stored.
    assert (reports["private"].status, reports["private"].new_items) == ("ok", 3)
    assert reports["loop"].error == secret_feeds.loop_error
    assert reports["moved"].error == secret_feeds.moved_error
    assert secret_feeds.request_line in logs
    assert secret_feeds.loop_line in logs
    assert secret_feeds.loop_error in state
    assert in_mrkdwn(f"(1 failure): {secret_feeds.moved_error}") in status
    assert in_mrkdwn(f"loop: failed: {secret_feeds.loop_error}") in polled
    assert leaks_in(logs=logs, state=state, status=status, polled=polled) == []


def test_briefbot_poll_and_status_print_no_feed_credential(secret_feeds: SecretFeeds) -> None:
    config = str(secret_feeds.config)
    poll = run_cli("--config", config, "-v", "poll")
    table = run_cli("--config", config, "status")
    as_json = run_cli("--config", config, "status", "--json")

    assert poll.returncode == table.returncode == as_json.returncode == 0, poll.stderr
    assert "redirect loop: " in poll.stdout and "redirect loop: " in table.stdout
    errors = {feed["id"]: feed["last_error"] for feed in json.loads(as_json.stdout)["feeds"]}
    assert errors == {
        "private": None,
        "loop": secret_feeds.loop_error,
        "moved": secret_feeds.moved_error,
    }
    outputs = {
        f"{name} {stream}": getattr(result, stream)
        for name, result in (("poll", poll), ("status", table), ("json", as_json))
        for stream in ("stdout", "stderr")
    }
    assert leaks_in(**outputs) == []


DEBUG_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
from bot.app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_every_library_logging_at_debug_shows_no_feed_credential(
    secret_feeds: SecretFeeds,
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", DEBUG_SCRIPT, "--config", str(secret_feeds.config), "poll"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=paths.ROOT,
        timeout=120,
    )
    record_output("briefbot poll at DEBUG (stdout, stderr)", child.stdout, child.stderr)

    assert child.returncode == 0, child.stderr
    assert f"DEBUG bot.ingest.fetch.client: {secret_feeds.request_line}" in child.stderr
    assert f"DEBUG bot.ingest.fetch.client: {secret_feeds.loop_line}" in child.stderr
    assert f"WARNING bot.ingest.poll: feed loop: {secret_feeds.loop_error}" in child.stderr
    assert leaks_in(stdout=child.stdout, stderr=child.stderr) == []


def test_briefbot_run_logs_no_feed_credential(
    secret_feeds: SecretFeeds, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    service = Service(secret_feeds.config, service_env(fake_slack), logs)
    try:
        said = (
            "feed private: 3 new backlog item(s)",
            f"feed loop: poll failed: {secret_feeds.loop_error}",
            f"feed moved: poll failed: {secret_feeds.moved_error}",
        )
        wait_for(lambda: all(s in service.output() for s in said), 30, "three polls", service)
        service.proc.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == EXIT_OK, service.output()
    finally:
        service.kill()
    output = service.output()

    assert "GET http" not in output  # the fetcher's line per request is DEBUG only
    assert leaks_in(service=output) == []


def test_an_error_stored_by_an_older_version_is_shown_redacted(
    secret_feeds: SecretFeeds, feed_server: FeedServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("older")
    config = write_config(folder, feed_server, folder / "data")
    raw = secret_feeds.loop_error.replace("***", FEED_TOKEN)
    now = datetime.now(UTC)
    store = TinyStore.open(folder / "data")
    with store.transaction() as tx:
        tx.feed_states.put(
            FeedState(
                "loop", last_attempt=now, consecutive_failures=2, failing_since=now, last_error=raw
            )
        )
    store.close()

    with Runtime.open(load_config(config, env={}), read_only=True) as runtime:
        status = reply_text(runtime, "status")
    as_json = run_cli("--config", str(config), "status", "--json")

    errors = {feed["id"]: feed["last_error"] for feed in json.loads(as_json.stdout)["feeds"]}
    assert errors["loop"] == secret_feeds.loop_error
    assert in_mrkdwn(f"(2 failures): {secret_feeds.loop_error}") in status
    assert leaks_in(status=status, stdout=as_json.stdout, stderr=as_json.stderr) == []
