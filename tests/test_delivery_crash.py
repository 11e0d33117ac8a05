"""`kill -9` between matching and delivery, then restarts: every alert reaches Slack exactly once.

A subprocess polls a loopback feed, queues alerts for a subscriber and
delivers them to the fake Slack; it is killed at random moments over several
trials while the feed keeps growing. The fake Slack counts what arrived.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import parse_config_text
from bot.pipeline import Runtime
from bot.subscriptions import create_subscription
from tests.feedgen import make_rss, numbered_entries
from tests.secretscan import record_output

TRIALS = int(os.environ.get("BRIEFBOT_CRASH_TRIALS", "5"))
USER = "U0SUBSCRIBER"

CHILD = """
import sys
from bot.config import load_config
from bot.pipeline import Runtime
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer

config = load_config(sys.argv[1])
with Runtime.open(config) as runtime:
    runtime.poll(force=True)
    print("polled", flush=True)
    report = runtime.dispatch_alerts(Deliverer(make_web_client(config.slack), interval=0.01))
    print("delivered", report.delivered, flush=True)
"""

TITLE = re.compile(r"Story (\d+)(?!\d)")
COUNT = re.compile(r"(\d+) new items?")


def run_child(config: Path, env: dict[str, str], kill_after: float | None) -> int:
    """Run one poll-and-deliver process; SIGKILL it `kill_after` s after it starts delivering."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    printed: list[str] = []
    if kill_after is not None:
        # Aim at the delivery window: wait for the poll to finish first.
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("polled"):
                break
        time.sleep(kill_after)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    # The child has the bot token: the secret-leak detector scans what it printed.
    record_output("the poll-and-deliver child's output", "".join(printed), rest)
    return proc.returncode


@pytest.mark.slow
def test_kill_between_match_and_delivery_delivers_each_alert_once(
    feed_server, fake_slack, tmp_path
):
    fake_slack.add_user(USER)
    data = tmp_path / "data"
    text = (
        f"settings:\n  data_dir: {data}\nfeeds:\n"
        f"  - id: wire\n    url: {feed_server.url('/wire.xml')}\n    allow_private: true\n"
    )
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    env.update(SLACK_BOT_TOKEN=fake_slack.token, SLACK_API_URL=fake_slack.url)

    # The first poll is backlog (never alerted); then the subscriber signs up.
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 5)))
    config = parse_config_text(text, str(config_path), env=env)
    with Runtime.open(config) as runtime:
        runtime.poll(force=True)
        create_subscription(
            runtime.store,
            owner=USER,
            created_by=USER,
            topic_or_query="story",
            topics={},
            now=datetime.now(UTC),
        )
        runtime.store.commit()

    rng = random.Random(int(os.environ.get("BRIEFBOT_CRASH_SEED", "11")))
    newest = 5
    killed = 0
    for _ in range(TRIALS):
        newest += rng.randint(3, 12)
        feed_server.add("/wire.xml", make_rss(numbered_entries(1, newest)))
        status = run_child(config_path, env, kill_after=rng.uniform(0.0, 0.25))
        killed += status != 0
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, newest)))
    assert run_child(config_path, env, kill_after=None) == 0

    seen: dict[int, int] = {}
    announced = 0
    for message in fake_slack.messages("D" + USER):
        # Each message says how many items it reports ("12 new items"), lists up
        # to ten of them and counts the rest ("and 2 more").
        announced += int(COUNT.match(message.text).group(1))  # type: ignore[union-attr]
        body = message.text + json.dumps(message.blocks or [])
        for number in {int(n) for n in TITLE.findall(body)}:
            seen[number] = seen.get(number, 0) + 1
    expected = set(range(6, newest + 1))
    assert set(seen) <= expected, "backlog items are never alerted"
    assert [n for n, count in seen.items() if count > 1] == [], "an alert was delivered twice"
    assert announced == len(expected), "every new item reported exactly once"
    assert killed >= 1, "no trial was killed mid-run: the test did not test the crash"
