"""`kill -9` while alerts and digests go out, then restarts: each reaches Slack exactly once.

A subprocess polls a loopback feed, queues alerts for a subscriber, delivers
them to the fake Slack and (second test) sends a channel's digest; it is
killed at random moments over several trials while the feed keeps growing.
A last, clean run finishes whatever was cut. The fake Slack counts what
arrived.

Not obvious:
- Each trial's digest has its own `scheduled_for` (a base time plus the trial
  number in minutes, after the channel's digest record was made), so every
  trial sends a new digest, and a restart must first finish the one a kill
  cut (`Runtime.send_digest` resumes it in the first message's thread).
- Kills aim at one of two windows, chosen at random: a random delay after the
  child prints "polled" (alerts), or after "delivered" (the digest, including
  the finishing of a digest the previous trial's kill cut). Now and then the
  fake holds one chat.postMessage for `HOLD` s (`fail_next(delay=...)`), so a
  kill can land while a post is at "Slack" (it lands, the child never hears);
  the next run starts only once the held post is through, as a restart would.
- A digest shows at most `max_items` items and its cursor moves past the
  rest. The feed therefore never grows past `max_items` items beyond the last
  digest known to have finished, so no digest cuts items, and "every item
  once" means: each fresh item in exactly one message of one digest.
- Found by the random kills: a run killed while finishing a cut digest left
  the stored count of posted messages stale, and the next run posted those
  messages again. The last test pins that case.
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
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.config.schema import parse_config_text
from bot.deliver.digests import current_state
from tests.support.fakeslack import FakeSlack, PostedMessage
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import record_output

TRIALS = int(os.environ.get("BRIEFBOT_CRASH_TRIALS", "5"))
SEED = int(os.environ.get("BRIEFBOT_CRASH_SEED", "11"))
USER = "U0SUBSCRIBER"
CHANNEL = "C0DIGEST01"
MAX_ITEMS = 200  # the digest's max_items (the most config allows)
FEED_WINDOW = 250  # more than a trial adds: no item leaves the feed unpolled
BACKLOG = 5  # items of the feed's first poll: never alerted, never digested
HOLD = 0.4  # seconds the fake holds a post when a trial arms it
PIN_HOLD = 2.0  # the same, where a test kills inside the held post on purpose

CHILD = """
import sys
from datetime import datetime
from bot.config.schema import load_config
from bot.app.runtime import Runtime
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer

config = load_config(sys.argv[1])
with Runtime.open(config) as runtime:
    runtime.poll(force=True)
    print("polled", flush=True)
    deliverer = Deliverer(make_web_client(config.slack), interval=0.15)
    report = runtime.dispatch_alerts(deliverer)
    print("delivered", report.delivered, flush=True)
    for digest in runtime.config.digests:
        when = datetime.fromisoformat(sys.argv[2])
        outcome = runtime.send_digest(digest, deliverer, scheduled_for=when)
        print("digest", outcome.status, flush=True)
"""

TITLE = re.compile(r"Story (\d+)(?!\d)")
COUNT = re.compile(r"(\d+) new items?")


@dataclass(frozen=True)
class Run:
    """What one child printed and how it ended (-SIGKILL when killed)."""

    status: int
    lines: list[str]

    @property
    def window(self) -> str:
        """Where the child was when it ended: the last step it finished."""
        steps = [line.split()[0] for line in self.lines if line.strip()]
        if self.status == 0:
            return "finished"
        if "digest" in steps:
            return "closing"
        if "delivered" in steps:
            return "digest"
        return "alerts" if "polled" in steps else "poll"


def run_child(
    config: Path, env: dict[str, str], when: datetime, kill: tuple[str, float] | None
) -> Run:
    """Run one poll-deliver-digest process; with `kill=(marker, s)`, SIGKILL it s after marker."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config), when.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    printed: list[str] = []
    if kill is not None:
        marker, delay = kill
        for line in proc.stdout:
            printed.append(line)
            if line.startswith(marker):
                break
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    # The child has the bot token: the secret-leak detector scans what it printed.
    record_output("the poll-and-deliver child's output", "".join(printed), rest)
    return Run(proc.returncode, "".join([*printed, rest]).splitlines())


def publish(server: FeedServer, newest: int) -> None:
    """The feed's newest `FEED_WINDOW` items up to `newest`, as real feeds keep a window.

    Long summaries, so that a digest of some fifty items needs several messages.
    """
    first = max(1, newest - FEED_WINDOW + 1)
    entries = [
        replace(e, summary=f"{e.summary} " + "Export controls and sanctions news. " * 8)
        for e in numbered_entries(first, newest - first + 1)
    ]
    server.add("/wire.xml", make_rss(entries))


def start_bot(
    server: FeedServer, fake: FakeSlack, tmp_path: Path, *, digest: bool
) -> tuple[Path, dict[str, str]]:
    """feeds.yaml and the child's environment; the backlog polled, the subscriber signed up."""
    fake.add_user(USER)
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\nfeeds:\n"
        f"  - id: wire\n    url: {server.url('/wire.xml')}\n    allow_private: true\n"
    )
    if digest:
        text += (
            f"digests:\n  - channel: {CHANNEL}\n    at: '08:30'\n    timezone: UTC\n"
            f"    max_items: {MAX_ITEMS}\n"
        )
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    env.update(SLACK_BOT_TOKEN=fake.token, SLACK_API_URL=fake.url)

    publish(server, BACKLOG)
    with Runtime.open(parse_config_text(text, str(config_path), env=env)) as runtime:
        runtime.poll(force=True)
        with runtime.store.transaction() as tx:
            create_subscription(
                tx,
                owner=USER,
                created_by=USER,
                topic_or_query="story",
                topics={},
                now=datetime.now(UTC),
            )
            for configured in runtime.config.digests:
                # The channel's ledger (and its last_sent) starts now, as a first digest's would.
                tx.digests.put(current_state(tx, configured.channel, runtime.clock()))
    return config_path, env


def story_numbers(message: PostedMessage) -> set[int]:
    return {int(n) for n in TITLE.findall(message.text + json.dumps(message.blocks or []))}


def assert_each_alert_once(fake: FakeSlack, newest: int) -> None:
    seen: Counter[int] = Counter()
    announced = 0
    for message in fake.messages("D" + USER):
        # Each message says how many items it reports ("12 new items"), lists up
        # to ten of them and counts the rest ("and 2 more").
        announced += int(COUNT.match(message.text).group(1))  # type: ignore[union-attr]
        seen.update(story_numbers(message))
    expected = set(range(BACKLOG + 1, newest + 1))
    assert set(seen) <= expected, "backlog items are never alerted"
    assert [n for n, count in seen.items() if count > 1] == [], "an alert was delivered twice"
    assert announced == len(expected), "every new item reported exactly once"


def digest_parts(fake: FakeSlack) -> dict[str, dict[int, list[PostedMessage]]]:
    """The digest channel's messages by metadata key, then part (a list: it may be posted twice)."""
    parts: dict[str, dict[int, list[PostedMessage]]] = {}
    for message in fake.messages(CHANNEL):
        payload = (message.metadata or {}).get("event_payload") or {}
        by_part = parts.setdefault(str(payload.get("key")), {})
        by_part.setdefault(int(payload["part"]), []).append(message)
    return parts


def parts_present(fake: FakeSlack) -> dict[str, set[int]]:
    return {key: set(by_part) for key, by_part in digest_parts(fake).items()}


def posted_lately(fake: FakeSlack, digests: int) -> str:
    """The parts of the last few digests in the channel, repeats shown: "11:58 [0, 1, 1, 2]"."""
    by_key = list(digest_parts(fake).items())[-digests:]
    return ", ".join(
        f"{key.rsplit('T', 1)[-1][:5]} {[p for p, ms in sorted(parts.items()) for _ in ms]}"
        for key, parts in by_key
    )


def wait_for_post_calls(fake: FakeSlack, count: int, timeout: float) -> None:
    """Wait until `count` chat.postMessage calls were answered (a held one is through)."""
    deadline = time.monotonic() + timeout
    while len(fake.calls("chat.postMessage")) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def assert_each_digest_message_once(fake: FakeSlack, newest: int, story: str = "") -> None:
    """Each (key, part) once, parts 0..n-1 with the replies in part 0's thread, each item once.

    Call it when the channel's digest cursor covers every item: then every
    fresh item must be in exactly one message of exactly one digest.
    """
    by_key = digest_parts(fake)
    twice = [
        (key, part) for key, by_part in by_key.items() for part, m in by_part.items() if len(m) > 1
    ]
    assert twice == [], f"a digest message was posted twice: {twice}\n{story}"
    for key, by_part in by_key.items():
        assert sorted(by_part) == list(range(len(by_part))), f"{key}: a part is missing\n{story}"
        first = by_part[0][0]
        assert first.thread_ts is None, f"{key}: its first message is a reply"
        replies = [by_part[part][0].thread_ts for part in range(1, len(by_part))]
        assert replies == [first.ts] * len(replies), f"{key}: a reply outside its own thread"
    shown: Counter[int] = Counter()
    for message in fake.messages(CHANNEL):
        shown.update(story_numbers(message))
    assert [n for n, c in shown.items() if c > 1] == [], f"an item was digested twice\n{story}"
    assert set(shown) == set(range(BACKLOG + 1, newest + 1)), "every fresh item was digested"


def assert_digest_cursor_covers_everything(config_path: Path, env: dict[str, str]) -> None:
    config = parse_config_text(config_path.read_text(), str(config_path), env=env)
    with Runtime.open(config) as runtime:
        state = runtime.store.digests.get(CHANNEL)
        assert state is not None
        assert (state.seq, state.partial, state.inflight) == (
            runtime.store.items.last_seq,
            None,
            None,
        )


@pytest.mark.slow
def test_kill_between_match_and_delivery_delivers_each_alert_once(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    config_path, env = start_bot(feed_server, fake_slack, tmp_path, digest=False)
    when = datetime.now(UTC)  # no digest is configured: unused
    rng = random.Random(SEED)
    newest = BACKLOG
    killed = 0
    for _ in range(TRIALS):
        newest += rng.randint(3, 12)
        publish(feed_server, newest)
        run = run_child(config_path, env, when, kill=("polled", rng.uniform(0.0, 0.25)))
        killed += run.status != 0
    assert run_child(config_path, env, when, kill=None).status == 0

    assert_each_alert_once(fake_slack, newest)
    assert killed >= 1, "no trial was killed mid-run: the test did not test the crash"


@pytest.mark.slow
def test_kill_during_alerts_and_long_digests_delivers_each_message_once(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    config_path, env = start_bot(feed_server, fake_slack, tmp_path, digest=True)
    base = datetime.now(UTC) + timedelta(seconds=1)  # after the record's last_sent
    rng = random.Random(SEED)
    newest = covered = BACKLOG  # `covered`: through which item a finished digest surely went
    held_call = 0  # how many chat.postMessage calls are answered once the held one is
    windows: Counter[str] = Counter()
    after_kills: list[dict[str, set[int]]] = []  # each digest's parts in the channel
    trials: list[str] = []  # what each trial did, for the failure messages
    started = time.monotonic()
    for trial in range(1, TRIALS + 1):
        growth = min(rng.randint(40, 80), MAX_ITEMS - (newest - covered))
        newest += growth
        publish(feed_server, newest)
        posts = len(fake_slack.calls("chat.postMessage"))
        hold = ""
        if posts >= held_call and rng.random() < 0.25:
            # Skip 0 holds the alert DM; 1 and up, a digest message.
            skip = rng.randint(0, 3)
            held_call = posts + skip + 1
            fake_slack.fail_next("chat.postMessage", skip=skip, delay=HOLD)
            hold = f", post {skip} held"
        # Alerts take ~0.05 s after "polled"; a digest's posts start ~0.05 s after
        # "delivered" and are 0.15 s apart (the child's Deliverer interval).
        if rng.random() < 1 / 4:
            kill = ("polled", rng.uniform(0.0, 0.15))
        else:
            kill = ("delivered", rng.uniform(0.0, 0.5))
        run = run_child(config_path, env, base + timedelta(minutes=trial), kill)
        windows[run.window] += 1
        trials.append(
            f"trial {trial}: items to {newest} (+{growth}){hold}, kill {kill[1]:.2f} s after "
            f"{kill[0]!r}: ended in {run.window}; {run.lines}"
        )
        if run.window in ("finished", "closing"):
            # "skipped": a killed run had sent it all (and nothing was added since).
            assert run.lines[-1] in ("digest sent", "digest skipped"), run.lines
            covered = newest
        if run.status == 0:
            continue
        assert run.status == -signal.SIGKILL, run.lines
        # A post held at "Slack" when the child died lands before the restart looks.
        wait_for_post_calls(fake_slack, held_call, timeout=HOLD + 0.5)
        after_kills.append(parts_present(fake_slack))
        trials.append(f"  then in {CHANNEL}: {posted_lately(fake_slack, 2)}")
    publish(feed_server, newest)
    final = base + timedelta(minutes=TRIALS + 1)
    last = run_child(config_path, env, final, kill=None)
    assert (last.status, last.lines[-1]) in [(0, "digest sent"), (0, "digest skipped")], last.lines
    again = run_child(config_path, env, final, kill=None)
    assert (again.status, again.lines[-1]) == (0, "digest already-sent"), again.lines
    elapsed = time.monotonic() - started

    assert_each_alert_once(fake_slack, newest)
    assert_digest_cursor_covers_everything(config_path, env)
    assert_each_digest_message_once(fake_slack, newest, "\n".join(trials))
    # A digest is "cut" when a kill left some but not all of its messages in the channel.
    final_parts = parts_present(fake_slack)
    cut = {
        key
        for snapshot in after_kills
        for key, parts in snapshot.items()
        if 0 < len(parts) < len(final_parts[key])
    }
    print(
        f"\n{TRIALS} trials (seed {SEED}) in {elapsed:.0f} s: ended in {dict(windows)}; "
        f"{len(final_parts)} digests, {len(fake_slack.messages(CHANNEL))} messages, {len(cut)} cut"
    )
    assert windows["digest"] >= 1, "no kill landed while the digest was going out"
    assert cut, "no kill cut a digest between its messages: the test did not test that"


@pytest.mark.slow
@pytest.mark.parametrize("fate", ["landed", "lost"])
def test_kill_while_finishing_a_cut_digest_then_restart_posts_each_message_once(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, fate: str
) -> None:
    """The case the random kills found, pinned: the run that finishes a cut digest is cut too.

    The fake holds a post for `PIN_HOLD` s and the child is killed in the
    middle of it. First run: the alert DM and the digest's first message pass,
    its second is held (it lands). Second run: it finds two of the digest's
    messages and posts the third into the thread: held, then posted ("landed")
    or dropped ("lost"). Third run, clean: finishes the digest.
    """
    config_path, env = start_bot(feed_server, fake_slack, tmp_path, digest=True)
    newest = BACKLOG + 60  # three messages
    publish(feed_server, newest)
    when = datetime.now(UTC) + timedelta(seconds=1)
    kill = ("delivered", PIN_HOLD / 2)

    fake_slack.fail_next("chat.postMessage", skip=2, delay=PIN_HOLD)
    assert run_child(config_path, env, when, kill).status == -signal.SIGKILL
    wait_for_post_calls(fake_slack, 3, timeout=PIN_HOLD + 1)
    assert list(parts_present(fake_slack).values()) == [{0, 1}]

    drop = "before" if fate == "lost" else None
    fake_slack.fail_next("chat.postMessage", delay=PIN_HOLD, drop=drop)
    assert run_child(config_path, env, when, kill).status == -signal.SIGKILL
    wait_for_post_calls(fake_slack, 4, timeout=PIN_HOLD + 1)
    assert list(parts_present(fake_slack).values()) == [{0, 1} if drop else {0, 1, 2}]

    last = run_child(config_path, env, when, kill=None)
    # "already-sent" when the restart finds every message there and posts nothing.
    assert last.status == 0
    assert last.lines[-1] in ("digest sent", "digest already-sent"), last.lines
    assert_digest_cursor_covers_everything(config_path, env)
    assert_each_digest_message_once(fake_slack, newest)
    assert list(parts_present(fake_slack).values()) == [{0, 1, 2}]
