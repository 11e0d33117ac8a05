"""`kill -9` while deadline reminders go out, then restarts: each reaches Slack exactly once.

The parent polls a Federal Register feed and enriches it from the documents API
(both on loopback), and subscribes four users. Children then send the
reminders due at four moments of a fake clock (7 and 1 days before a rule
takes effect, 7 and 1 days before a comment period closes): each moment gets
killed runs first (a random delay after the first post the fake Slack
answered, so the kill aims at the batch however slow the machine is; now and
then with a post held at the fake, so the kill lands while it is "at
Slack"), then a clean run. The fake Slack counts what arrived. A held post
may come in a later child than the one it was queued for (that one died, or
had nothing to post, first); after every kill the test waits until the held
post is through, as a restart comes only after the dead bot's requests ended.

Pinned: a child killed while its first post is held at the fake Slack
(`FakeSlack.hold`); released, the message lands ("landed": the restart finds
it in the history and posts nothing) or is dropped ("lost": the restart posts
it), each exactly once.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.fedreg import enrich_documents
from bot.brief.subscriptions import create_subscription
from bot.config.schema import parse_config_text
from tests.app.fedreg_harness import START, Clock, config_text, open_runtime, serve_feed
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.fedregapi import DocumentsApi, recorded_documents
from tests.support.feedserver import FeedServer
from tests.support.secretscan import record_output

TRIALS = int(os.environ.get("BRIEFBOT_CRASH_TRIALS", "5"))
SEED = int(os.environ.get("BRIEFBOT_CRASH_SEED", "11"))
USERS = ("U0READER01", "U0READER02", "U0READER03", "U0READER04")
NUMBERS = ("2023-27783", "2023-27019", "2023-28483", "2024-00190")
HOLD = 0.4
# 09:05 UTC: two rules take effect on 1 Feb, comments on 2023-27019 close on 4 Mar.
MOMENTS = (
    datetime(2024, 1, 25, 9, 5, tzinfo=UTC),
    datetime(2024, 1, 31, 9, 5, tzinfo=UTC),
    datetime(2024, 2, 26, 9, 5, tzinfo=UTC),
    datetime(2024, 3, 3, 9, 5, tzinfo=UTC),
)
# (headline, title) of every reminder each user must get once.
EXPECTED = {
    ("Takes effect in 7 days", "Carrier Automated Tariffs"),
    ("Takes effect in 7 days", "Endangered and Threatened Species"),
    ("Takes effect tomorrow", "Carrier Automated Tariffs"),
    ("Takes effect tomorrow", "Endangered and Threatened Species"),
    ("Comments close in 7 days", "Renewable Energy Modernization Rule"),
    ("Comments close tomorrow", "Renewable Energy Modernization Rule"),
}
SHOWN = re.compile(r"\*(Takes effect [^*]+|Comments close [^*]+)\* \([^)]*\): <[^|]*\|([^>]+)>")

CHILD = """
import sys
from datetime import datetime
from bot.app.reminders import send_reminders
from bot.app.runtime import Runtime
from bot.config.addresses import PUBLIC_ONLY
from bot.config.schema import load_config
from bot.ingest.fetch.client import Network
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.support.network import FakeResolver

config = load_config(sys.argv[1])
now = datetime.fromisoformat(sys.argv[2])
network = Network(resolver=FakeResolver({}), policy=PUBLIC_ONLY.allowing(["127.0.0.0/8"]))
with Runtime.open(config, clock=lambda: now, network=network) as runtime:
    print("opened", flush=True)
    deliverer = Deliverer(make_web_client(config.slack), interval=0.15)
    report = send_reminders(runtime, deliverer)
    print("reminded", report.sent, report.found_after_crash, report.retried, flush=True)
"""


def run_child(
    config: Path, env: dict[str, str], when: datetime, kill: float | None, fake: FakeSlack
) -> list[str]:
    """One reminder run; with `kill`, SIGKILL it that many seconds after its first post.

    Timed from the first chat.postMessage the fake Slack answers, not from the
    child's start, so the kill aims at the batch however slow the machine is.
    """
    before = len(fake.calls("chat.postMessage"))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config), when.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if kill is not None:
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if len(fake.calls("chat.postMessage")) > before:
                time.sleep(kill)
                break
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    record_output("the reminder child's output", out)
    lines = out.splitlines()
    if kill is None:
        assert proc.returncode == 0, lines
    return lines


def start_bot(
    feed_server: FeedServer, api: DocumentsApi, fake: FakeSlack, tmp_path: Path
) -> tuple[Path, dict[str, str]]:
    """feeds.yaml and the child's environment; the feed enriched, the readers subscribed."""
    serve_feed(feed_server, NUMBERS)
    clock = Clock(START)
    # TinyDB only: the child killed with SIGKILL is the data directory's writer.
    with open_runtime(feed_server, api, tmp_path, clock, backend=Backend("tinydb")) as runtime:
        runtime.poll(force=True)
        assert len(enrich_documents(runtime).enriched) == len(NUMBERS)
        with runtime.store.transaction() as tx:
            for user in USERS:
                fake.add_user(user)
                create_subscription(
                    tx,
                    owner=user,
                    created_by=user,
                    topic_or_query="bis",
                    topics=runtime.topics(),
                    now=clock(),
                )
    text = config_text(feed_server.url("/fr.rss"), api.base, tmp_path / "data")
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    env.update(SLACK_BOT_TOKEN=fake.token, SLACK_API_URL=fake.url)
    parse_config_text(text, str(config_path), env=env)  # the children read the same file
    return config_path, env


def reminders_seen(fake: FakeSlack, user: str) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for message in fake.messages("D" + user):
        for block in message.blocks or []:
            text = (block.get("text") or {}).get("text", "")
            seen.update((h, t[: len(_title_start(t))]) for h, t in SHOWN.findall(text))
    return seen


def _title_start(title: str) -> str:
    return next((want for _, want in EXPECTED if title.startswith(want)), title)


def assert_each_reminder_once(fake: FakeSlack, story: str = "") -> None:
    for user in USERS:
        seen = reminders_seen(fake, user)
        twice = [key for key, count in seen.items() if count > 1]
        assert twice == [], f"{user} got a reminder twice: {twice}\n{story}"
        assert set(seen) == EXPECTED, f"{user}: {sorted(seen)}\n{story}"


def wait_for_post_calls(fake: FakeSlack, count: int, timeout: float) -> None:
    """Wait until `count` chat.postMessage calls were answered (a held one is through)."""
    deadline = time.monotonic() + timeout
    while len(fake.calls("chat.postMessage")) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def api() -> Iterator[DocumentsApi]:
    with DocumentsApi(recorded_documents()) as served:
        yield served


@pytest.mark.slow
def test_kill_while_reminders_go_out_delivers_each_once(
    feed_server: FeedServer, api: DocumentsApi, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    config_path, env = start_bot(feed_server, api, fake_slack, tmp_path)
    rng = random.Random(SEED)
    story: list[str] = []
    killed_mid_batch = 0
    held_call = 0  # how many chat.postMessage calls are answered once the held one is
    for moment in MOMENTS:
        for trial in range(max(1, TRIALS // 2)):
            posts = len(fake_slack.calls("chat.postMessage"))
            hold = rng.random() < 0.3
            skip = rng.randint(0, 3) if hold else 0
            held = ""
            if hold and posts >= held_call:  # the last one held is through: hold another
                held_call = posts + skip + 1
                fake_slack.fail_next("chat.postMessage", skip=skip, delay=HOLD)
            if posts < held_call:  # queued here or by an earlier child that died before it
                held = f", post {held_call} held"
            delay = rng.uniform(0.0, 0.45)  # posts are 0.15 s apart
            lines = run_child(config_path, env, moment, delay, fake_slack)
            after = len(fake_slack.calls("chat.postMessage"))  # answered before the child died
            killed_mid_batch += 0 < after - posts < len(USERS)
            if not lines[-1:] or not lines[-1].startswith("reminded"):  # killed
                # A post held at "Slack" when the child died lands before the restart looks.
                wait_for_post_calls(fake_slack, held_call, timeout=HOLD + 0.5)
            story.append(f"{moment:%d %b} trial {trial}: kill {delay:.2f} s{held}: {lines}")
        clean = run_child(config_path, env, moment, None, fake_slack)
        story.append(f"{moment:%d %b} clean: {clean}")
    again = run_child(config_path, env, MOMENTS[-1], None, fake_slack)
    assert again[-1] == "reminded 0 0 0", again
    assert_each_reminder_once(fake_slack, "\n".join(story))
    assert killed_mid_batch >= 1, "no kill landed between posts: the test did not test the crash"


@pytest.mark.slow
@pytest.mark.parametrize("fate", ["landed", "lost"])
def test_kill_inside_a_held_post_then_restart_posts_it_once(
    feed_server: FeedServer, api: DocumentsApi, fake_slack: FakeSlack, tmp_path: Path, fate: str
) -> None:
    config_path, env = start_bot(feed_server, api, fake_slack, tmp_path)
    moment = MOMENTS[0]
    held = fake_slack.hold("chat.postMessage")
    if fate == "lost":
        fake_slack.fail_next("chat.postMessage", drop="before")  # once released
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config_path), moment.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert held.held.wait(30), "the child never posted"
    proc.send_signal(signal.SIGKILL)  # while its first post is at "Slack"
    out, _ = proc.communicate(timeout=60)
    record_output("the reminder child's output", out)
    assert proc.returncode == -signal.SIGKILL
    held.release()
    wait_for_post_calls(fake_slack, 1, timeout=10)
    landed = sum(len(fake_slack.messages("D" + user)) for user in USERS)
    assert landed == (1 if fate == "landed" else 0)

    lines = run_child(config_path, env, moment, None, fake_slack)
    found, retried = (2, 0) if fate == "landed" else (0, 2)  # two reminders in that message
    assert lines[-1] == f"reminded {2 * (len(USERS) - 1) + retried} {found} {retried}", lines
    assert all(len(fake_slack.messages("D" + user)) == 1 for user in USERS)
    for user in USERS:
        assert sum(reminders_seen(fake_slack, user).values()) == 2
