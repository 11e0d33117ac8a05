"""Load: many signed `/brief` commands to HTTP mode on loopback while polls run.

Every command must be acknowledged (HTTP 200) within Slack's 3 seconds, be
answered through its response_url without an apology (our error text), and
every subscription asked for must be in the store afterwards.

The full run (1,000 commands over ~60 s) is `slow` and runs only with
BRIEFBOT_LOAD=1; it prints the acknowledgement times (recorded in
RELIABILITY.md). A reduced run (100 commands over ~5 s) is in the normal suite.

Not obvious:
- Commands are sent on a fixed schedule (one every duration/count seconds)
  from a thread pool, not as fast as possible: Slack delivers commands as
  people type them, and a closed loop would measure the client, not the bot.
- A background thread polls the feed over and over during the run; the feed
  answers after a delay, so a poll is always in flight, holding the ingest
  thread and, at its end, the store's write transaction.
- Each subscribe comes from its own user: the per-owner cap (50) must not be
  what the test measures.
"""

from __future__ import annotations

import functools
import os
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.config.schema import parse_config_text
from bot.slack.app import APOLOGY, build_app
from bot.slack.http import serve_http
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.responseurl import ResponseUrlServer
from tests.support.secretscan import SIGNING_SECRET
from tests.support.slackhttp import command_form, post, sign
from tests.support.wsserver import wait_until

ACK_LIMIT = 3.0  # Slack's deadline for the acknowledgement (slash commands)
FEED_DELAY = 1.0


@dataclass(frozen=True)
class Sent:
    """One command and how it was acknowledged."""

    name: str  # its response_url path
    text: str
    user: str
    status: int
    seconds: float


@pytest.fixture
def runtime(tmp_path: Path, feed_server: FeedServer) -> Iterator[Runtime]:
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 30)), delay=FEED_DELAY)
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        "  connect_timeout: 2\n  read_timeout: 3\n  total_timeout: 5\n"
        f"feeds:\n  - id: wire\n    url: {feed_server.url('/wire.xml')}\n    allow_private: true\n"
    )
    with Runtime.open(parse_config_text(text, "load-feeds.yaml", env={})) as rt:
        yield rt


def command_for(n: int) -> tuple[str, str]:
    """(text, user) of the n-th command: help, a search, or a subscribe by a new user."""
    kind = n % 3
    if kind == 0:
        return "help", "U0LOADHELP"
    if kind == 1:
        return f"story {n % 30}", "U0LOADSEARCH"
    return f"subscribe loadtest{n}", f"U0LOAD{n:05d}"


def run_load(
    runtime: Runtime, fake_slack: FakeSlack, feed_server: FeedServer, count: int, duration: float
) -> tuple[list[Sent], int]:
    """Send `count` commands over `duration` seconds while polls run; return them and the polls."""
    secrets = SlackSecrets(
        bot_token=fake_slack.token, signing_secret=SIGNING_SECRET, api_url=fake_slack.url
    )
    server = serve_http(
        build_app(secrets, functools.partial(handle_command, runtime)), port=0, host="127.0.0.1"
    )
    responses = ResponseUrlServer()
    stop_polling = threading.Event()
    polls = 0

    def keep_polling() -> None:
        nonlocal polls
        newest = 30
        while not stop_polling.is_set():
            newest += 3
            feed_server.add("/wire.xml", make_rss(numbered_entries(1, newest)), delay=FEED_DELAY)
            runtime.poll(force=True)
            polls += 1

    def send(n: int, at: float) -> Sent:
        time.sleep(max(0.0, at - time.monotonic()))
        text, user = command_for(n)
        name = f"c{n}"
        form = command_form(text, responses.url(name), user_id=user, user_name=user.lower())
        body = urlencode(form).encode()
        answer = post(server, body, sign(body))
        return Sent(name, text, user, answer.status, answer.seconds)

    poller = threading.Thread(target=keep_polling, name="load-poller", daemon=True)
    poller.start()
    try:
        start = time.monotonic() + 0.2
        with ThreadPoolExecutor(max_workers=48) as pool:
            futures = [pool.submit(send, n, start + n * duration / count) for n in range(count)]
            sent = [f.result() for f in futures]
        wait_until(lambda: len(responses.replies()) >= count, timeout=60)
        replies = {r.path.rsplit("/", 1)[1]: r for r in responses.replies()}
    finally:
        stop_polling.set()
        poller.join(timeout=30)
        server.stop()
        responses.stop()
    for item in sent:
        reply = replies.get(item.name)
        assert reply is not None, f"{item.text!r} was never answered"
        assert APOLOGY not in reply.everything, f"{item.text!r} got the apology"
    return sent, polls


def ack_summary(sent: list[Sent]) -> str:
    times = sorted(s.seconds for s in sent)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return (
        f"{len(sent)} commands: ack p50 {statistics.median(times) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms, "
        f"non-200 {sum(s.status != 200 for s in sent)}"
    )


def check_load(runtime: Runtime, sent: list[Sent], polls: int) -> None:
    assert [s for s in sent if s.status != 200] == []
    slow = [s for s in sent if s.seconds >= ACK_LIMIT]
    assert slow == [], f"{len(slow)} acknowledgements took {ACK_LIMIT:g} s or more"
    assert polls >= 2, "polls ran alongside the commands"
    wanted = {s.user: s.text.split(" ", 1)[1] for s in sent if s.text.startswith("subscribe")}
    stored = {sub.owner: sub.query or sub.topic for sub in runtime.store.subscriptions.list()}
    assert stored == wanted, "a subscription was lost (or one appeared unasked)"


def test_100_commands_in_5_seconds_during_a_poll(
    runtime: Runtime, fake_slack: FakeSlack, feed_server: FeedServer
) -> None:
    sent, polls = run_load(runtime, fake_slack, feed_server, count=100, duration=5.0)
    print(ack_summary(sent))
    check_load(runtime, sent, polls)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(os.environ.get("BRIEFBOT_LOAD") != "1", reason="set BRIEFBOT_LOAD=1 (~70 s)")
def test_1000_commands_in_60_seconds_during_polls(
    runtime: Runtime, fake_slack: FakeSlack, feed_server: FeedServer
) -> None:
    sent, polls = run_load(runtime, fake_slack, feed_server, count=1000, duration=60.0)
    print(ack_summary(sent), f"polls {polls}")
    check_load(runtime, sent, polls)
