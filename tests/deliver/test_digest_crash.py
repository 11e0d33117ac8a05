"""`kill -9` between two messages of a long digest, then a restart: the rest follows, once.

A child process sends a channel's digest (several messages: a summary, then
replies in its thread) to the fake Slack and is killed while one of the later
messages is on its way. The fake holds that post for a moment (`fail_next`
with a delay) so the kill lands inside it every time, then either posts it
("landed": the request reached Slack before the bot died) or drops it
("lost"). A second child finishes the digest: each message must be in the
channel exactly once, in the first one's thread, with every item in it.

Before the fix, the restart found the digest's first message by its metadata
key, counted the whole digest as delivered and never posted the rest.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.config.model import Config
from bot.config.schema import parse_config_text
from bot.deliver.digests import current_state
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import record_output

CHANNEL = "C0DIGEST01"
TITLE = re.compile(r"Story (\d+)(?!\d)")
HOLD = 1.5  # seconds the fake holds the post the child is killed in

CHILD = """
import sys
from datetime import datetime
from bot.config.schema import load_config
from bot.app.runtime import Runtime
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer

config = load_config(sys.argv[1])
with Runtime.open(config) as runtime:
    print("sending", flush=True)
    outcome = runtime.send_digest(
        runtime.config.digests[0],
        Deliverer(make_web_client(config.slack), interval=0.05),
        scheduled_for=datetime.fromisoformat(sys.argv[2]),
    )
    print("outcome", outcome.status, flush=True)
"""


def run_child(
    config: Path, when: datetime, env: dict[str, str], *, kill_at: tuple[FakeSlack, int] | None
) -> tuple[int, str]:
    """Send the digest in a child; with `kill_at=(fake, n)`, SIGKILL it once n messages landed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config), when.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if kill_at is not None:
        fake, landed = kill_at
        deadline = time.monotonic() + 30
        while len(fake.messages(CHANNEL)) < landed and time.monotonic() < deadline:
            time.sleep(0.01)
        # The next post is now held by the fake for HOLD seconds: kill inside it.
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    record_output("the digest child's output", out)
    return proc.returncode, out


@dataclass
class Setup:
    config: Config
    path: Path
    env: dict[str, str]
    planned: int  # messages the digest needs
    seq_before: int  # the channel's digest cursor before it
    when: datetime  # the digest's scheduled time


def set_up(feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path) -> Setup:
    """A data dir with a 5-item backlog and 120 fresh items: a digest of several messages."""
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        f"feeds:\n  - id: wire\n    url: {feed_server.url('/wire.xml')}\n    allow_private: true\n"
        f"digests:\n  - channel: {CHANNEL}\n    at: '08:30'\n    timezone: UTC\n"
        "    max_items: 150\n"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    env.update(SLACK_BOT_TOKEN=fake_slack.token, SLACK_API_URL=fake_slack.url)
    config = parse_config_text(text, str(path), env=env)
    feed_server.add("/wire.xml", make_rss(numbered_entries(1, 5)))
    with Runtime.open(config) as runtime:
        runtime.poll(force=True)  # the backlog: never digested
        # The channel's ledger starts now (as its first digest would record it).
        with runtime.store.transaction() as tx:
            tx.digests.put(current_state(tx, CHANNEL, runtime.clock()))
        # Long summaries: 120 fresh items need several messages.
        entries = [
            replace(e, summary=f"{e.summary} " + "Export controls and sanctions news. " * 8)
            for e in numbered_entries(1, 125)
        ]
        feed_server.add("/wire.xml", make_rss(entries))
        runtime.poll(force=True)
        _, planned = runtime.build_digest(runtime.config.digests[0])
        state = runtime.store.digests.get(CHANNEL)
        assert state is not None
        seq_before = state.seq
    assert len(planned) >= 3, "the digest must span at least three messages"
    when = datetime.now(UTC) + timedelta(seconds=1)
    return Setup(config, path, env, len(planned), seq_before, when)


def kill_after(setup: Setup, fake_slack: FakeSlack, landed: int, fate: str) -> None:
    """Send the digest in a child and kill it inside the post after `landed` messages."""
    fake_slack.fail_next(
        "chat.postMessage", skip=landed, delay=HOLD, drop="before" if fate == "lost" else None
    )
    status, _ = run_child(setup.path, setup.when, setup.env, kill_at=(fake_slack, landed))
    assert status == -signal.SIGKILL
    time.sleep(HOLD)  # let the held post land (or be dropped) before the restart looks
    assert len(fake_slack.messages(CHANNEL)) == (landed + 1 if fate == "landed" else landed)


def finish(setup: Setup) -> None:
    """A clean run finishes the digest; the next one finds it sent."""
    status, out = run_child(setup.path, setup.when, setup.env, kill_at=None)
    assert (status, out.splitlines()[-1]) == (0, "outcome sent")
    status, out = run_child(setup.path, setup.when, setup.env, kill_at=None)
    assert (status, out.splitlines()[-1]) == (0, "outcome already-sent")


def assert_posted_once(setup: Setup, fake_slack: FakeSlack) -> None:
    posted = fake_slack.messages(CHANNEL)
    parts = [m.metadata["event_payload"]["part"] for m in posted]  # type: ignore[index]
    assert parts == list(range(setup.planned)), "each message of the digest once, in order"
    assert [m.thread_ts for m in posted[1:]] == [posted[0].ts] * (len(posted) - 1)
    shown: Counter[int] = Counter()
    for message in posted:
        body = message.text + json.dumps(message.blocks or [])
        shown.update({int(n) for n in TITLE.findall(body)})
    assert set(shown) == set(range(6, 126)), "every fresh item is in the digest"
    assert [n for n, c in shown.items() if c > 1] == [], "an item was posted twice"
    with Runtime.open(setup.config) as runtime:
        state = runtime.store.digests.get(CHANNEL)
        assert state is not None
        assert state.seq > setup.seq_before
        assert state.partial is None and state.inflight is None


@pytest.mark.slow
@pytest.mark.parametrize("landed", [1, 2], ids=["after-1", "after-2"])
@pytest.mark.parametrize("fate", ["landed", "lost"])
def test_kill_mid_digest_then_restart_posts_the_rest_once(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, landed: int, fate: str
) -> None:
    setup = set_up(feed_server, fake_slack, tmp_path)
    kill_after(setup, fake_slack, landed, fate)
    finish(setup)
    assert_posted_once(setup, fake_slack)


@pytest.mark.slow
def test_items_changed_between_crash_and_restart_do_not_change_the_rest(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    setup = set_up(feed_server, fake_slack, tmp_path)
    kill_after(setup, fake_slack, 2, "lost")
    # Meanwhile items are linked as duplicates (as a later poll's story
    # linking does): a rebuilt digest would split differently and skip some.
    # A link names the primary's seq (Item.duplicate_of): here the first item's.
    with Runtime.open(setup.config) as runtime, runtime.store.transaction() as tx:
        items = list(tx.items.after())
        primary = items[0].seq
        for item in items[1:]:
            story = TITLE.search(item.title)
            if story is not None and int(story.group(1)) % 3 == 0:
                tx.items.update_extras(item.feed_id, item.id, {"duplicate_of": primary})
        linked = [i for i in tx.items.after() if i.duplicate_of == primary and not i.backlog]
    assert len(linked) == 40, "the links must hide fresh items from a rebuilt digest"
    finish(setup)
    assert_posted_once(setup, fake_slack)


@pytest.mark.slow
def test_restart_that_cannot_read_history_posts_nothing_until_it_can(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    setup = set_up(feed_server, fake_slack, tmp_path)
    kill_after(setup, fake_slack, 1, "lost")
    fake_slack.fail_next("conversations.history", error="missing_scope")
    status, out = run_child(setup.path, setup.when, setup.env, kill_at=None)
    assert (status, out.splitlines()[-1]) == (0, "outcome failed")
    assert len(fake_slack.messages(CHANNEL)) == 1, "nothing posted while Slack cannot be asked"
    finish(setup)
    assert_posted_once(setup, fake_slack)
