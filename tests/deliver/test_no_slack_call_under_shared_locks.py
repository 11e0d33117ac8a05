"""No Slack call is made while holding a lock that `/brief`, searches or polls need (issue 11, 3).

Everything is real and on loopback: a `Runtime` on a TinyDB directory in
tmp_path or on its own PostgreSQL database (each test runs on both), polling a
loopback feed server; the real `Deliverer` and slack_sdk
client posting to the fake Slack (tests/support/fakeslack.py). The fake holds
one `chat.postMessage` open (`FakeSlack.hold`) while a digest or an alert
dispatch runs on a thread of its own; meanwhile, on another thread, `/brief`
answers a search, a `/brief subscribe` commits and a forced poll stores new
items. Then the post is let go: it must reach Slack exactly once and its
ledger (the digest cursor, the alerts delivered) must be right.

Not obvious:
- Every wait is bounded (`Event.wait(timeout)`, `Thread.join(timeout)`) and
  asserted: a command, search or poll stuck behind the held post fails the
  test within `WAIT` seconds instead of hanging it; the hold is released
  either way (the fixture releases it, and `FakeSlack.stop` drops held calls).
- The actions run on a helper thread (`bounded`), not on the test's own, so
  that being stuck shows as a failure naming the action rather than a
  pytest-timeout; what matters is that they run while the post is held.
- The slack_sdk client's timeout (30 s) is far longer than a hold, so a held
  post is never retried by the client: "exactly once" counts calls too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.config.model import DigestConfig, SlackSecrets
from bot.config.schema import parse_config_text
from bot.models import CommandReply, CommandRequest
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.support.backends import Backend, stored_text
from tests.support.fakeslack import FakeSlack, Hold, PostedMessage
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

T = TypeVar("T")

DIGEST_A = "C0DIGEST0A"
DIGEST_B = "C0DIGEST0B"
ALERTS = "C0ALERTS01"  # a channel subscribed to alerts
NEWS = "C0NEWSROOM"  # where commands are typed
MEMBER = "U0MEMBER01"  # subscribed to alerts by direct message
ADMIN = "U0ADMIN001"
READER = "U0READER01"  # subscribes while a post is held
WAIT = 10.0  # the longest a bounded wait takes when nothing is stuck

ENTITY = [
    Entry("Additions to the Entity List: Acme Semiconductor", "https://example.org/e1", "e1"),
    Entry("Entity List removals for two research institutes", "https://example.org/e2", "e2"),
]
# Published while a post is held: one more entity-list story (alerted), one other.
LATER = [
    Entry("Entity List: third round of additions", "https://example.org/e3", "e3"),
    Entry("Wassenaar plenary agrees new controls", "https://example.org/w1", "w1"),
]


# --------------------------------------------------------------------------- helpers


class Background(Generic[T]):
    """Runs `work` on a thread of its own; `result()` waits a bounded time for it."""

    def __init__(self, work: Callable[[], T], name: str) -> None:
        self.name = name
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to the test thread by result()
            self._error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self, timeout: float = WAIT) -> T:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self.name} did not finish within {timeout} s"
        if self._error is not None:
            raise self._error
        assert self._value is not None, f"{self.name} returned nothing"
        return self._value


def bounded(what: str, work: Callable[[], T]) -> T:
    """`work()`'s result, failing the test if it takes longer than WAIT (stuck behind a post)."""
    return Background(work, what).result(WAIT)


def reply_text(reply: CommandReply) -> str:
    """A command reply's messages: fallback texts and block texts, as one string."""
    return "\n".join(texts(m.text, m.blocks) for m in reply.messages)


def shown(message: PostedMessage) -> str:
    """A posted message's fallback text and block texts, as one string."""
    return texts(message.text, message.blocks or [])


def texts(text: str, blocks: Iterable[Mapping[str, Any]]) -> str:
    parts = [text]
    for block in blocks:
        inner = block.get("text")
        if isinstance(inner, Mapping):
            parts.append(str(inner.get("text", "")))
        for element in block.get("elements") or []:
            label = element.get("text", "")
            parts.append(str(label.get("text", "") if isinstance(label, Mapping) else label))
    return "\n".join(parts)


def post_calls(slack: FakeSlack, channel: str) -> int:
    """chat.postMessage calls Slack answered for `channel` (a retry would count twice)."""
    return sum(1 for c in slack.calls("chat.postMessage") if c.params.get("channel") == channel)


@dataclass
class World:
    runtime: Runtime
    slack: FakeSlack
    deliverer: Deliverer
    feeds: FeedServer
    data_dir: Path
    backend: Backend

    def command(self, text: str, *, user: str = MEMBER, channel: str = NEWS) -> CommandReply:
        request = CommandRequest(user_id=user, channel_id=channel, text=text)
        return handle_command(self.runtime, request, poster=self.deliverer)

    def digest(self, channel: str) -> DigestConfig:
        digest = self.runtime.digest_config(channel)
        assert digest is not None
        return digest

    def publish(self, entries: list[Entry]) -> None:
        self.feeds.add("/wire.xml", make_rss(entries))


@pytest.fixture
def world(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, backend: Backend
) -> Iterator[World]:
    """A runtime with a polled backlog, then two entity-list stories as news, alerts queued.

    MEMBER (by direct message) and ALERTS (a channel) are subscribed to the
    entity-list topic before the news poll, so each has two alerts queued.
    """
    data_dir = tmp_path / "data"
    text = (
        f"settings:\n  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n  - id: wire\n    url: {feed_server.url('/wire.xml')}\n    allow_private: true\n"
        "topics:\n  - id: entity-list\n    query: '\"entity list\"'\n"
        "digests:\n"
        f"  - channel: {DIGEST_A}\n    at: '08:30'\n    timezone: UTC\n"
        f"  - channel: {DIGEST_B}\n    at: '08:30'\n    timezone: UTC\n"
        f"admins: [{ADMIN}]\n"
    )
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    deliverer = Deliverer(make_web_client(secrets, timeout=30, backoff=0.05), interval=0.0)
    config = parse_config_text(text, "shared-locks.yaml", env=backend.env())
    with Runtime.open(config) as runtime:
        world = World(runtime, fake_slack, deliverer, feed_server, data_dir, backend)
        # Published two days ago: a channel's first digest leaves such backlog out.
        old = numbered_entries(1, 3, now=datetime.now(UTC) - timedelta(days=2))
        world.publish(old)
        [backlog] = runtime.poll(force=True)
        assert (backlog.status, backlog.backlog) == ("ok", True), backlog
        with runtime.store.transaction() as tx:
            for owner in (MEMBER, ALERTS):
                create_subscription(
                    tx,
                    owner=owner,
                    created_by=MEMBER if owner == MEMBER else ADMIN,
                    topic_or_query="entity-list",
                    topics=runtime.topics(),
                    now=datetime.now(UTC),
                )
        world.publish(ENTITY + old)
        [news] = runtime.poll(force=True)
        assert (news.status, news.new_items, news.backlog) == ("ok", 2, False), news
        queued = {(a.owner, a.item_seq) for a in runtime.store.alerts.queued()}
        assert len(queued) == 4, queued
        yield world


def commands_searches_and_polls_go_on(world: World, hold: Hold, job: Background[Any]) -> None:
    """While `job`'s post is held at Slack: a search, a subscribe and a poll all finish."""
    runtime = world.runtime
    assert hold.held.wait(WAIT), f"{job.name} never reached Slack"

    found = bounded("/brief search", lambda: world.command("search entity list"))
    text = reply_text(found)
    assert text.startswith("2 results for “entity list”"), text
    assert all(e.title in text for e in ENTITY), text

    subscribed = bounded(
        "/brief subscribe", lambda: world.command("subscribe wassenaar", user=READER)
    )
    assert reply_text(subscribed).startswith("Subscribed to query wassenaar"), reply_text(
        subscribed
    )
    assert [s.query for s in runtime.store.subscriptions.list(owner=READER)] == ["wassenaar"]

    before = runtime.store.items.last_seq
    world.publish(LATER + ENTITY + numbered_entries(1, 3))
    [report] = bounded("a forced poll", lambda: runtime.poll(force=True))
    assert (report.status, report.new_items) == ("ok", 2), report
    stored = [item.title for item in runtime.store.items.after(before)]
    assert sorted(stored) == sorted(e.title for e in LATER)

    again = bounded("a second /brief search", lambda: world.command("search entity list"))
    assert reply_text(again).startswith("3 results for “entity list”"), reply_text(again)

    # All of that happened while the post was still at "Slack".
    assert job.running, f"{job.name} finished before the hold was released"
    assert not hold.released.is_set() and hold.count == 1


@pytest.fixture
def hold_of(fake_slack: FakeSlack) -> Iterator[Callable[[str], Hold]]:
    """Makes holds on chat.postMessage to a channel; releases them all after the test."""
    holds: list[Hold] = []

    def make(channel: str) -> Hold:
        hold = fake_slack.hold("chat.postMessage", channel=channel)
        holds.append(hold)
        return hold

    yield make
    for hold in holds:
        hold.release()


# --------------------------------------------------------------------------- (a) a digest


def test_commands_searches_and_polls_go_on_while_a_digest_post_is_held(
    world: World, hold_of: Callable[[str], Hold]
) -> None:
    runtime, slack = world.runtime, world.slack
    composed_through = runtime.store.items.last_seq
    started = datetime.now(UTC)
    hold = hold_of(DIGEST_A)

    sending = Background(
        lambda: runtime.send_digest(world.digest(DIGEST_A), world.deliverer), "the digest"
    )
    assert hold.held.wait(WAIT), "the digest never reached Slack"
    state = runtime.store.digests.get(DIGEST_A)
    assert state is not None and state.inflight is not None, "posted before it was recorded"
    commands_searches_and_polls_go_on(world, hold, sending)
    # A preview of the very channel being posted to needs no lock either.
    preview = bounded("/brief digest", lambda: world.command("digest", channel=DIGEST_A))
    assert "Preview of this channel's digest" in reply_text(preview)
    assert slack.messages(DIGEST_A) == []

    hold.release()
    outcome = sending.result()

    assert (outcome.status, outcome.items) == ("sent", 2), outcome
    posted = slack.messages(DIGEST_A)
    assert len(posted) == len(outcome.messages) >= 1
    assert post_calls(slack, DIGEST_A) == len(posted), "a digest message was posted twice"
    assert [(m.metadata or {})["event_payload"]["part"] for m in posted] == list(range(len(posted)))
    assert all(e.title in "\n".join(shown(m) for m in posted) for e in ENTITY)
    state = runtime.store.digests.get(DIGEST_A)
    assert state is not None
    # The cursor moved to what the digest covered: not to the items polled meanwhile.
    assert (state.seq, state.inflight, state.partial) == (composed_through, None, None)
    assert state.last_sent >= started
    view, _ = runtime.build_digest(world.digest(DIGEST_A))
    assert view.item_count == 1, "the story polled during the post is for the next digest"
    assert runtime.delivery_errors() == {}


# --------------------------------------------------------------------------- (b) alerts


@pytest.mark.parametrize(
    ("owner", "channel"),
    [
        pytest.param(MEMBER, "D" + MEMBER, id="direct-message"),
        pytest.param(ALERTS, ALERTS, id="channel"),
    ],
)
def test_commands_searches_and_polls_go_on_while_an_alert_post_is_held(
    world: World, hold_of: Callable[[str], Hold], owner: str, channel: str
) -> None:
    runtime, slack = world.runtime, world.slack
    first = {a.key for a in runtime.store.alerts.queued() if a.owner == owner}
    assert len(first) == 2
    hold = hold_of(channel)

    dispatching = Background(lambda: runtime.dispatch_alerts(world.deliverer), "the alerts")
    assert hold.held.wait(WAIT), "the alerts never reached Slack"
    [inflight] = runtime.store.alert_deliveries.all()
    assert (inflight.owner, set(inflight.alert_keys)) == (owner, first), "not recorded first"
    commands_searches_and_polls_go_on(world, hold, dispatching)
    assert slack.messages(channel) == []
    # The poll matched the third entity-list story for the owner meanwhile.
    later = {a.key for a in runtime.store.alerts.queued() if a.owner == owner} - first
    assert len(later) == 1

    hold.release()
    report = dispatching.result()

    assert report.failed_owners == {}
    [alert] = slack.messages(channel)
    assert post_calls(slack, channel) == 1, "the alert was posted twice"
    assert all(e.title in shown(alert) for e in ENTITY)
    assert LATER[0].title not in shown(alert), "an alert queued after the post was listed in it"
    assert first <= runtime.store.alerts.sent_keys()
    queued = {a.key for a in runtime.store.alerts.queued() if a.owner == owner}
    assert queued == later, "delivered alerts still queued, or the later one lost"
    assert runtime.store.alert_deliveries.all() == []
    assert runtime.delivery_errors() == {}

    # The alert queued meanwhile goes out with the next dispatch, once.
    bounded("the next dispatch", lambda: runtime.dispatch_alerts(world.deliverer))
    assert [LATER[0].title in shown(m) for m in slack.messages(channel)] == [False, True]
    assert post_calls(slack, channel) == 2
    assert not [a for a in runtime.store.alerts.queued() if a.owner == owner]


# --------------------------------------------------------------------------- (c) two digests


def test_a_digest_held_in_one_channel_does_not_hold_up_another_channels(
    world: World, hold_of: Callable[[str], Hold]
) -> None:
    runtime, slack = world.runtime, world.slack
    composed_through = runtime.store.items.last_seq
    hold = hold_of(DIGEST_A)

    held = Background(
        lambda: runtime.send_digest(world.digest(DIGEST_A), world.deliverer), "digest A"
    )
    assert hold.held.wait(WAIT), "digest A never reached Slack"
    other = bounded(
        "digest B", lambda: runtime.send_digest(world.digest(DIGEST_B), world.deliverer)
    )

    assert (other.status, other.items) == ("sent", 2), other
    assert len(slack.messages(DIGEST_B)) == len(other.messages) == post_calls(slack, DIGEST_B)
    state_b = runtime.store.digests.get(DIGEST_B)
    assert state_b is not None
    assert (state_b.seq, state_b.inflight) == (composed_through, None)
    assert held.running and slack.messages(DIGEST_A) == []
    state_a = runtime.store.digests.get(DIGEST_A)
    assert state_a is not None and state_a.inflight is not None

    hold.release()
    outcome = held.result()

    assert (outcome.status, outcome.items) == ("sent", 2), outcome
    assert len(slack.messages(DIGEST_A)) == len(outcome.messages) == post_calls(slack, DIGEST_A)
    state_a = runtime.store.digests.get(DIGEST_A)
    assert state_a is not None
    assert (state_a.seq, state_a.inflight, state_a.partial) == (composed_through, None, None)
    assert runtime.delivery_errors() == {}


# --------------------------------------------------------------------------- previews


def stored(world: World) -> object:
    """Everything stored: the data directory's files, or every row of the database."""
    if world.backend.url is not None:
        return stored_text(world.backend.url)
    return data_files(world.data_dir)


def data_files(data_dir: Path) -> dict[str, bytes]:
    """Every file of the data directory but the lock, by relative path."""
    return {
        str(p.relative_to(data_dir)): p.read_bytes()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and p.name != "LOCK"
    }


def test_a_digest_preview_of_a_channel_never_seen_writes_nothing(world: World) -> None:
    runtime = world.runtime
    before = stored(world)

    preview = world.command("digest", channel="C0NEVERSEEN")
    configured, configured_messages = runtime.build_digest(world.digest(DIGEST_B))
    adhoc, adhoc_messages = runtime.build_digest(
        DigestConfig(channel="C0NEVERSEEN2", at=time(8, 30), timezone="UTC")
    )

    # Real previews, of the two entity-list stories...
    assert "Preview of this channel's digest" in reply_text(preview)
    assert all(e.title in reply_text(preview) for e in ENTITY)
    assert configured.item_count == adhoc.item_count == 2
    assert configured_messages and adhoc_messages
    # ...that recorded nothing, not even the channels' first ledgers.
    assert stored(world) == before
    for channel in ("C0NEVERSEEN", DIGEST_B, "C0NEVERSEEN2"):
        assert runtime.store.digests.get(channel) is None
    assert world.slack.calls("chat.postMessage") == []
