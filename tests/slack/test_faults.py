"""Slack faults in the middle of a digest and of an alert batch: nothing lost, nothing twice.

A real `Runtime` (loopback feed, TinyDB in tmp_path) delivers through the real
`Deliverer` and slack_sdk client to the fake Slack, which counts what arrived.
Slack goes away at a chosen moment: the outage starts the instant the first
message of a batch lands (a watcher thread calls `down()`), and the deliverer
paces posts to one channel `INTERVAL` seconds apart, so the next post of the
batch is the first to meet it.

Not obvious:
- The client retries 5xx and refused connections itself (bot/slack/client.py);
  here it gets one quick retry, so an outage outlasts it and reaches the
  pipeline as a retryable failure.
- "Exactly once" is counted at the fake: each item title must appear in the
  channel once over all runs, and each posted message once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.config.model import DigestConfig, SlackSecrets
from bot.config.schema import parse_config_text
from bot.deliver.digests import current_state
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer

CHANNEL = "C0DIGEST01"
INTERVAL = 0.4
USERS = [f"U0READER{n}" for n in range(4)]
TITLE = re.compile(r"Story (\d+)(?!\d)")


@pytest.fixture
def runtime(feed_server: FeedServer, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose feed has a 5-item backlog; each test adds fresh items."""
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 5)))
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n  - id: wire\n    url: {feed_server.url('/wire.xml')}\n    allow_private: true\n"
        f"digests:\n  - channel: {CHANNEL}\n    at: '08:30'\n    timezone: UTC\n"
        "    max_items: 150\n"
    )
    with Runtime.open(parse_config_text(text, "slack-faults.yaml", env={})) as rt:
        rt.poll(force=True)  # the backlog: never alerted, never digested
        yield rt


def make_deliverer(
    fake: FakeSlack, *, max_retries: int = 1, max_retry_after: float = 60
) -> Deliverer:
    secrets = SlackSecrets(bot_token=fake.token, api_url=fake.url)
    client = make_web_client(
        secrets, timeout=3, max_retries=max_retries, backoff=0.05, max_retry_after=max_retry_after
    )
    return Deliverer(client, interval=INTERVAL, attempts=2, backoff=0.05)


def add_fresh_items(runtime: Runtime, server: FeedServer, newest: int) -> None:
    # Long summaries, so that a digest of a few dozen items needs several messages.
    entries = [
        replace(e, summary=f"{e.summary} " + "Export controls and sanctions news. " * 8)
        for e in numbered_entries(1, newest)
    ]
    server.add("/wire.xml", make_rss(entries))
    runtime.poll(force=True)


def story_counts(fake: FakeSlack, channel: str) -> Counter[int]:
    """How often each "Story N" was shown in `channel` (one count per message it is in)."""
    seen: Counter[int] = Counter()
    for message in fake.messages(channel):
        body = message.text + json.dumps(message.blocks or [])
        seen.update({int(n) for n in TITLE.findall(body)})
    return seen


def take_down_after_first_post(fake: FakeSlack, channel: str, mode: str) -> threading.Thread:
    """Take Slack down the moment the first message lands in `channel`."""
    before = len(fake.messages(channel))

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(fake.messages(channel)) > before:
                fake.down(mode)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def start_ledger(runtime: Runtime, channel: str) -> None:
    """Record the channel's digest ledger as a first digest would: its last_sent is now."""
    with runtime.store.transaction() as tx:
        tx.digests.put(current_state(tx, channel, runtime.clock()))


def digest_seq(runtime: Runtime) -> int:
    state = runtime.store.digests.get(CHANNEL)
    assert state is not None
    return state.seq


# --------------------------------------------------------------------------- digests


@pytest.mark.parametrize("mode", ["refuse", "503"])
def test_slack_down_mid_digest_then_back_delivers_it_once(
    runtime: Runtime, feed_server: FeedServer, fake_slack: FakeSlack, mode: str
) -> None:
    add_fresh_items(runtime, feed_server, 125)  # 120 fresh items: several messages
    digest: DigestConfig = runtime.config.digests[0]
    start_ledger(runtime, CHANNEL)  # a preview (build_digest) no longer records it
    _, planned = runtime.build_digest(digest)
    assert len(planned) >= 2, "the digest must span several messages to be cut in the middle"
    seq_before = digest_seq(runtime)
    # A scheduled time after the channel's record was made (its last_sent is "now").
    when = datetime.now(UTC) + timedelta(seconds=1)

    watcher = take_down_after_first_post(fake_slack, CHANNEL, mode)
    failed = runtime.send_digest(digest, make_deliverer(fake_slack), scheduled_for=when)
    watcher.join()
    assert failed.status == "failed"
    assert failed.error is not None and CHANNEL in failed.error
    assert len(fake_slack.messages(CHANNEL)) == 1, "only the first message got through"
    assert digest_seq(runtime) == seq_before, "the cursor moved while Slack refused"
    assert CHANNEL in runtime.delivery_errors()

    fake_slack.up()
    sent = runtime.send_digest(digest, make_deliverer(fake_slack), scheduled_for=when)
    again = runtime.send_digest(digest, make_deliverer(fake_slack), scheduled_for=when)

    assert sent.status == "sent"
    assert again.status == "already-sent"
    counts = story_counts(fake_slack, CHANNEL)
    assert set(counts) == set(range(6, 126)), "every fresh item is in the digest"
    assert [n for n, c in counts.items() if c > 1] == [], "an item was posted twice"
    posted = fake_slack.messages(CHANNEL)
    assert len(posted) == len(sent.messages), "a message of the digest was posted twice"
    assert [m.thread_ts for m in posted[1:]] == [posted[0].ts] * (len(posted) - 1)
    assert digest_seq(runtime) > seq_before
    assert CHANNEL not in runtime.delivery_errors()


# --------------------------------------------------------------------------- alerts


def subscribe_everyone(runtime: Runtime, fake: FakeSlack) -> None:
    with runtime.store.transaction() as tx:
        for user in USERS:
            fake.add_user(user)
            create_subscription(
                tx,
                owner=user,
                created_by=user,
                topic_or_query="story",
                topics={},
                now=datetime.now(UTC),
            )


def dm_counts(fake: FakeSlack) -> dict[str, Counter[int]]:
    return {user: story_counts(fake, "D" + user) for user in USERS}


@pytest.mark.parametrize("mode", ["refuse", "503"])
def test_slack_down_mid_alert_batch_then_back_delivers_each_alert_once(
    runtime: Runtime, feed_server: FeedServer, fake_slack: FakeSlack, mode: str
) -> None:
    subscribe_everyone(runtime, fake_slack)
    add_fresh_items(runtime, feed_server, 8)  # items 6, 7, 8 for each of the four readers
    deliverer = make_deliverer(fake_slack)
    # DMs are opened first, so the outage meets chat.postMessage, not conversations.open.
    for user in USERS:
        deliverer.open_dm(user)

    # The pacing gate is per channel; each reader is a channel of their own, so
    # the outage is timed on the first DM to land.
    before = len(fake_slack.messages())

    def watch() -> None:
        while len(fake_slack.messages()) == before:
            time.sleep(0.002)
        fake_slack.down(mode)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    first = runtime.dispatch_alerts(deliverer)
    watcher.join(timeout=10)
    assert first.delivered >= 3, "the first reader got their alert before the outage"
    assert first.failed_owners, "the outage stopped the batch"
    assert first.delivered + 3 * len(first.failed_owners) == 3 * len(USERS)

    fake_slack.up()
    second = runtime.dispatch_alerts(deliverer)
    third = runtime.dispatch_alerts(deliverer)

    assert second.delivered + first.delivered == 3 * len(USERS)
    assert (third.delivered, third.messages) == (0, 0)
    for user, counts in dm_counts(fake_slack).items():
        assert counts == Counter({6: 1, 7: 1, 8: 1}), f"{user} got {counts}"
    assert runtime.delivery_errors() == {}


# --------------------------------------------------------------------------- 429 and refusals


def test_a_429_storm_ends_in_one_delivery(
    runtime: Runtime, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    subscribe_everyone(runtime, fake_slack)
    add_fresh_items(runtime, feed_server, 7)
    deliverer = make_deliverer(fake_slack, max_retries=2, max_retry_after=2)
    # Three 429s in a row (Retry-After: 1): the first dispatch's two retries are spent.
    fake_slack.fail_next("chat.postMessage", 3, error="ratelimited", retry_after=1)

    started = time.monotonic()
    first = runtime.dispatch_alerts(deliverer)
    second = runtime.dispatch_alerts(deliverer)
    elapsed = time.monotonic() - started

    assert first.delivered + second.delivered == 2 * len(USERS)  # items 6 and 7 each
    assert list(first.failed_owners) == [USERS[0]], "only the first reader met the storm"
    assert "rate limiting" in first.failed_owners[USERS[0]]
    assert runtime.delivery_errors() == {}
    for user, counts in dm_counts(fake_slack).items():
        assert counts == Counter({6: 1, 7: 1}), f"{user} got {counts}"
    assert [c.status for c in fake_slack.calls("chat.postMessage")].count(429) == 3
    assert elapsed >= 2 * 1.0, "each of the two retries waited out Retry-After: 1"


def test_channel_not_found_is_reported_and_not_retried_forever(
    runtime: Runtime, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    gone = "C0GONE0001"
    with runtime.store.transaction() as tx:
        create_subscription(
            tx,
            owner=gone,
            created_by=USERS[0],
            topic_or_query="story",
            topics={},
            now=datetime.now(UTC),
        )
    add_fresh_items(runtime, feed_server, 7)
    deliverer = make_deliverer(fake_slack)
    fake_slack.fail_next("chat.postMessage", 1, error="channel_not_found")

    first = runtime.dispatch_alerts(deliverer)
    calls_after_first = len(fake_slack.calls("chat.postMessage"))
    second = runtime.dispatch_alerts(deliverer)

    assert list(first.failed_owners) == [gone]
    assert "channel_not_found" in first.failed_owners[gone]
    error = runtime.delivery_errors()[gone].error
    assert gone in error and "check the channel id" in error
    assert (second.delivered, second.failed_owners) == (0, {})
    assert len(fake_slack.calls("chat.postMessage")) == calls_after_first == 1
    assert fake_slack.messages(gone) == []
