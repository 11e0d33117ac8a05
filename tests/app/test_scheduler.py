"""The service's scheduler: jobs per feed and digest, config sync, DST-true digests, health notices.

Real parts throughout: a Runtime on a TinyDB store in tmp_path, feeds served
by the loopback `feed_server`, Slack played by `fake_slack` and reached
through the real client and Deliverer. Tests that move time use a fake clock
on the Runtime and call the job methods directly (what APScheduler would
call); the others run a real BackgroundScheduler (started paused where only
its plan is looked at). Expected digest instants are worked out by hand in
the comments, not by the code under test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.app.runtime import Runtime
from bot.app.scheduler import OPS_NOTICES_TABLE, BotScheduler, DigestTrigger
from bot.brief.schedule import next_digest_time, scheduled_times
from bot.brief.subscriptions import create_subscription
from bot.config.model import Config, DigestConfig, SlackSecrets
from bot.config.schema import parse_config_text
from bot.config.units import parse_days
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.store.tinydb.engine import Store
from tests.support.fakeslack import FakeSlack, PostedMessage
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

OPS = "C0OPSCHAN1"
DIGEST_CHANNEL = "C0DIGEST01"
ALICE = "U0ALICE001"


class FakeClock:
    """The Runtime's clock, moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_config(
    data_dir: Path,
    feeds: list[dict[str, Any]],
    *,
    digests: list[dict[str, Any]] | None = None,
    topics: list[dict[str, Any]] | None = None,
    ops_channel: str | None = None,
    retention_days: int = 180,
) -> Config:
    doc: dict[str, Any] = {
        "settings": {
            "data_dir": str(data_dir),
            "connect_timeout": 2,
            "read_timeout": 2,
            "total_timeout": 5,
            "retention_days": retention_days,
        },
        "feeds": [{"allow_private": True, **feed} for feed in feeds],
    }
    if digests:
        doc["digests"] = digests
    if topics:
        doc["topics"] = topics
    if ops_channel:
        doc["ops_channel"] = ops_channel
    return parse_config_text(yaml.safe_dump(doc, sort_keys=False), "test-feeds.yaml", env={})


def make_poster(fake_slack: FakeSlack) -> Deliverer:
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    return Deliverer(make_web_client(secrets, timeout=5, backoff=0.05), interval=0.01)


@pytest.fixture
def poster(fake_slack: FakeSlack) -> Deliverer:
    return make_poster(fake_slack)


@pytest.fixture
def schedulers() -> Iterator[list[BotScheduler]]:
    """Schedulers a test made; shut down after it even when it failed."""
    made: list[BotScheduler] = []
    yield made
    for scheduler in made:
        scheduler.shutdown(wait=True)


def open_runtime(config: Config, clock: FakeClock | None = None) -> Runtime:
    store = Store.open(config.settings.data_dir, retention_days=config.settings.retention_days)
    return Runtime(config, store, clock=clock) if clock else Runtime(config, store)


def shown_utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def next_daily_utc(now: datetime, hour: int, minute: int) -> datetime:
    """The next hour:minute UTC strictly after `now` (for zones without DST)."""
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def message_texts(fake_slack: FakeSlack, channel: str) -> list[str]:
    return [m.text for m in fake_slack.messages(channel)]


def shown_text(message: PostedMessage) -> str:
    """Everything a reader sees in a message: its blocks' text (or the fallback text)."""
    if not message.blocks:
        return message.text
    return json.dumps(message.blocks, ensure_ascii=False)


# -- the plan: jobs per feed and digest, as the start-up log shows it ---------------------


def test_describe_lists_feeds_digests_channels_and_next_run_times(
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer, schedulers: list[BotScheduler]
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 2)))
    feed_server.add("/b.xml", make_rss(numbered_entries(1, 2, prefix="Other")))
    config = make_config(
        tmp_path / "data",
        [
            {"id": "a", "name": "Feed A", "url": feed_server.url("/a.xml"), "interval": "1m"},
            {"id": "b", "name": "Feed B", "url": feed_server.url("/b.xml"), "interval": "30m"},
            {"id": "c", "url": feed_server.url("/c.xml"), "enabled": False},
        ],
        # Tokyo has no DST: 08:30 JST is always 23:30 UTC the day before.
        digests=[{"channel": DIGEST_CHANNEL, "at": "08:30", "timezone": "Asia/Tokyo"}],
        ops_channel=OPS,
    )
    runtime = open_runtime(config)
    try:
        runtime.poll(feed_ids={"a"})  # a was polled: its next poll is its next_due
        for owner in ("C0ALERTS01", ALICE):
            create_subscription(
                runtime.store,
                owner=owner,
                created_by=ALICE,
                topic_or_query="story",
                topics={},
                now=runtime.clock(),
            )
        a_state = runtime.store.get_feed_state("a")
        assert a_state is not None and a_state.next_due is not None
        a_due = a_state.next_due
        before = datetime.now(UTC)
        scheduler = BotScheduler(runtime, poster, jitter_fraction=0)
        schedulers.append(scheduler)
        scheduler.start(paused=True)
        after = datetime.now(UTC)
        lines = scheduler.describe()
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()
        runtime.close()

    assert lines[0] == "feeds: 2 enabled, 1 paused (c)"
    assert lines[1] == f"poll a (Feed A): every 1m, next {shown_utc(a_due)}"
    # b was never polled: it is due now.
    b_line = re.fullmatch(r"poll b \(Feed B\): every 30m, next (.+) UTC", lines[2])
    assert b_line is not None, lines[2]
    b_next = datetime.strptime(b_line[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= b_next <= after
    digest_options = {
        f"digest {DIGEST_CHANNEL}: 08:30 Asia/Tokyo daily, next "
        f"{(slot + timedelta(hours=9)):%Y-%m-%d} 08:30 JST = {shown_utc(slot)}"
        for slot in (next_daily_utc(before, 23, 30), next_daily_utc(after, 23, 30))
    }
    assert lines[3] in digest_options
    assert lines[4] == (
        "channels: C0ALERTS01 (alerts), C0DIGEST01 (digest), C0OPSCHAN1 (ops notices); "
        "direct-message alerts for 1 user(s)"
    )
    assert re.fullmatch(r"alert dispatch: every 1m, next \S+ \S+ UTC", lines[5])
    assert re.fullmatch(
        r"feed health: notices to C0OPSCHAN1 after 6h failing; next check \S+ \S+ UTC", lines[6]
    )
    assert re.fullmatch(r"retention: 180 days, next prune \S+ \S+ UTC", lines[7])
    assert len(lines) == 8


def test_no_job_for_a_paused_feed_and_every_other_job_scheduled(
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer, schedulers: list[BotScheduler]
) -> None:
    config = make_config(
        tmp_path / "data",
        [
            {"id": "on", "url": feed_server.url("/on.xml")},
            {"id": "off", "url": feed_server.url("/off.xml"), "enabled": False},
        ],
        digests=[{"channel": DIGEST_CHANNEL, "at": "07:00", "timezone": "UTC"}],
    )
    with open_runtime(config) as runtime:
        scheduler = BotScheduler(runtime, poster)
        schedulers.append(scheduler)
        scheduler.start(paused=True)
        runs = scheduler.next_run_times()
        line = scheduler.describe()[-2]
    assert sorted(runs) == [
        f"digest:{DIGEST_CHANNEL}",
        "dispatch",
        "feed-health",
        "poll:on",
        "retention",
    ]
    assert all(when is not None for when in runs.values())
    assert line.startswith("feed health: no ops_channel, notices only logged after 6h failing")


# -- config changes from Slack take effect without a restart --------------------------------


def test_sync_jobs_after_a_config_change_adds_moves_and_removes_jobs(
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer, schedulers: list[BotScheduler]
) -> None:
    data = tmp_path / "data"
    urls = {name: feed_server.url(f"/{name}.xml") for name in ("a", "b", "d")}
    config = make_config(
        data,
        [{"id": "a", "url": urls["a"], "interval": "1m"}, {"id": "b", "url": urls["b"]}],
        digests=[{"channel": DIGEST_CHANNEL, "at": "08:30", "timezone": "Asia/Tokyo"}],
    )
    changed = make_config(
        data,
        [
            {"id": "a", "url": urls["a"], "interval": "2m"},
            {"id": "d", "url": urls["d"], "interval": "5m"},
        ],
        digests=[
            {"channel": DIGEST_CHANNEL, "at": "09:15", "timezone": "Asia/Tokyo"},
            {
                "channel": "C0LONDON01",
                "at": "07:00",
                "timezone": "Europe/London",
                "days": "mon-fri",
            },
        ],
    )
    with open_runtime(config) as runtime:
        scheduler = BotScheduler(runtime, poster, jitter_fraction=0)
        schedulers.append(scheduler)
        scheduler.start(paused=True)
        assert sorted(j for j in scheduler.next_run_times() if ":" in j) == [
            f"digest:{DIGEST_CHANNEL}",
            "poll:a",
            "poll:b",
        ]
        # What Runtime.refresh_config does after a change made from Slack.
        runtime.config = changed
        before = datetime.now(UTC)
        for listener in list(runtime.config_listeners):
            listener()
        runs = scheduler.next_run_times()
        polls = [line for line in scheduler.describe() if line.startswith("poll ")]
        scheduler.shutdown()
        listeners_after = list(runtime.config_listeners)

    assert sorted(j for j in runs if ":" in j) == [
        "digest:C0DIGEST01",
        "digest:C0LONDON01",
        "poll:a",
        "poll:d",
    ]
    assert [line.split(", next")[0] for line in polls] == [
        "poll a (a): every 2m",
        "poll d (d): every 5m",
    ]
    # 09:15 JST is 00:15 UTC.
    assert runs["digest:C0DIGEST01"] == next_daily_utc(before, 0, 15)
    london_run = runs["digest:C0LONDON01"]
    assert london_run is not None
    london = london_run.astimezone(ZoneInfo("Europe/London"))
    assert (london.strftime("%H:%M"), london.weekday() < 5) == ("07:00", True)
    assert london - before < timedelta(days=4)
    assert listeners_after == []  # shutdown unregistered sync_jobs


# -- the digest trigger: DST-true, the same instants as catch-up ----------------------------


def make_digest(at: str, zone: str, days: str = "daily") -> DigestConfig:
    hour, minute = (int(part) for part in at.split(":"))
    return DigestConfig(
        channel="C0TEST",
        at=datetime(2026, 1, 1, hour, minute).time(),
        timezone=zone,
        days=parse_days(days),
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def chain(trigger: DigestTrigger, start: datetime, count: int) -> list[str]:
    """Fire times as APScheduler chains them: the first from `now`, then each from the last."""
    fired = []
    previous = None
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, previous or start)
        assert fire is not None
        fired.append(fire.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
        previous = fire
    return fired


@pytest.mark.parametrize(
    ("digest", "start", "expected"),
    [
        pytest.param(
            make_digest("02:30", "America/New_York"),
            "2026-03-07 00:00",
            # 8 March has no 02:30 EST/EDT: 03:00 EDT (07:00 UTC), right after the jump.
            ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30", "2026-03-10 06:30"],
            id="ny-0230-spring-forward-gap",
        ),
        pytest.param(
            make_digest("01:30", "America/New_York"),
            "2026-10-31 00:00",
            # 1 November has 01:30 twice (05:30 and 06:30 UTC): only the first.
            ["2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30"],
            id="ny-0130-fall-back-once",
        ),
        pytest.param(
            make_digest("00:00", "America/New_York"),
            "2026-03-07 00:00",
            # Midnight EST is 05:00 UTC; from Monday 9 March, EDT: 04:00 UTC. Monday not skipped.
            ["2026-03-07 05:00", "2026-03-08 05:00", "2026-03-09 04:00", "2026-03-10 04:00"],
            id="ny-midnight-chained-across-spring-forward",
        ),
        pytest.param(
            make_digest("01:30", "Europe/London"),
            "2026-03-28 00:00",
            # 29 March jumps 01:00 GMT -> 02:00 BST: 02:00 BST is 01:00 UTC.
            ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"],
            id="london-0130-gap",
        ),
        pytest.param(
            make_digest("08:30", "Asia/Tokyo", "mon-fri"),
            "2026-11-27 00:00",  # Friday 09:00 JST: Friday's digest has gone
            # Monday 30 November 08:30 JST = Sunday 23:30 UTC.
            ["2026-11-29 23:30", "2026-11-30 23:30"],
            id="tokyo-weekdays-skip-the-weekend",
        ),
    ],
)
def test_digest_trigger_fire_times(digest: DigestConfig, start: str, expected: list[str]) -> None:
    assert chain(DigestTrigger(digest), utc(start), len(expected)) == expected


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(make_digest("02:30", "America/New_York", "mon-fri"), id="ny-0230-weekdays"),
        pytest.param(make_digest("01:30", "Europe/London"), id="london-0130"),
        pytest.param(make_digest("17:45", "Australia/Sydney"), id="sydney-1745"),
    ],
)
def test_digest_trigger_agrees_with_next_digest_time_over_a_year(digest: DigestConfig) -> None:
    trigger = DigestTrigger(digest)
    start, end = utc("2026-01-01 00:00"), utc("2027-01-01 00:00")
    fired, previous = [], None
    while True:
        fire = trigger.get_next_fire_time(previous, previous or start)
        assert fire is not None
        if fire > end:
            break
        fired.append(fire)
        previous = fire
    assert fired == scheduled_times(digest, start, end)
    after = utc("2026-01-01 00:07:13")  # never on a slot
    while after < end:
        assert trigger.get_next_fire_time(None, after) == next_digest_time(digest, after)
        after += timedelta(hours=7, minutes=41)


def test_digest_job_sends_once_per_slot_and_agrees_with_catch_up(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, poster: Deliverer
) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    slot = start + timedelta(hours=2)  # daily at this hour:minute, UTC
    clock = FakeClock(start)
    feed_server.add("/n.xml", make_rss(numbered_entries(1, 2, prefix="Old chip")))
    config = make_config(
        tmp_path / "data",
        [{"id": "n", "url": feed_server.url("/n.xml"), "interval": "1m"}],
        topics=[{"id": "chips", "query": "chip"}],
        digests=[{"channel": DIGEST_CHANNEL, "at": f"{slot:%H:%M}", "timezone": "UTC"}],
    )
    runtime = open_runtime(config, clock)
    try:
        scheduler = BotScheduler(runtime, poster)
        scheduler.poll_feed("n")  # backlog: never in a digest
        assert runtime.build_digest(config.digests[0])[1] == []  # channel first seen now
        new_entry = Entry("New chip export rule", "https://example.org/chip-rule", guid="rule-1")
        feed_server.add("/n.xml", make_rss([new_entry, *numbered_entries(1, 2, prefix="Old chip")]))
        clock.advance(minutes=30)
        scheduler.poll_feed("n")

        clock.now = slot + timedelta(seconds=10)  # the job fires just after its slot
        first = scheduler.send_digest(DIGEST_CHANNEL)
        clock.advance(seconds=20)  # fired again for the same slot (a retry, a second process)
        second = scheduler.send_digest(DIGEST_CHANNEL)
        assert first is not None and second is not None
        assert (first.status, second.status) == ("sent", "already-sent")
        [posted] = fake_slack.messages(DIGEST_CHANNEL)
        assert "New chip export rule" in shown_text(posted)

        # Down over the next slot: catch-up at start-up sends it, the job then has nothing.
        later = Entry("Later chip news", "https://example.org/later", guid="later-1")
        feed_server.add("/n.xml", make_rss([later, new_entry]))
        clock.advance(hours=1)
        scheduler.poll_feed("n")
        clock.now = slot + timedelta(days=1, hours=3)
        caught_up = runtime.catch_up_digests(poster)
        live = scheduler.send_digest(DIGEST_CHANNEL)
    finally:
        runtime.close()
    assert [o.status for o in caught_up] == ["sent"]
    assert live is not None and live.status == "already-sent"
    texts = [shown_text(m) for m in fake_slack.messages(DIGEST_CHANNEL)]
    assert len(texts) == 2
    assert "Later chip news" in texts[1] and "New chip export rule" not in texts[1]


# -- poll jobs: due times, alerts, feed-health notices -------------------------------------


def test_poll_job_stores_items_and_sends_one_dm_to_the_subscriber(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, poster: Deliverer
) -> None:
    clock = FakeClock(datetime.now(UTC))
    backlog = numbered_entries(1, 3, prefix="Notice")
    feed_server.add("/fr.xml", make_rss(backlog))
    config = make_config(
        tmp_path / "data", [{"id": "fr", "url": feed_server.url("/fr.xml"), "interval": "1m"}]
    )
    runtime = open_runtime(config, clock)
    try:
        create_subscription(
            runtime.store,
            owner=ALICE,
            created_by=ALICE,
            topic_or_query='"entity list"',
            topics=runtime.topics(),
            now=clock(),
        )
        runtime.store.commit()
        scheduler = BotScheduler(runtime, poster)
        [first] = scheduler.poll_feed("fr")
        assert (first.new_items, first.backlog) == (3, True)
        assert fake_slack.messages() == []  # backlog alerts nobody

        rule = Entry("Additions to the Entity List", "https://example.org/el", guid="el-1")
        feed_server.add("/fr.xml", make_rss([rule, *backlog]))
        clock.advance(minutes=1, seconds=1)
        [second] = scheduler.poll_feed("fr")
        clock.advance(minutes=1, seconds=1)
        [third] = scheduler.poll_feed("fr")  # nothing new: no second DM
        titles = sorted(item.title for item in runtime.store.iter_items() if not item.backlog)
    finally:
        runtime.close()
    assert (second.new_items, third.new_items) == (1, 0)
    assert titles == ["Additions to the Entity List"]
    [dm] = fake_slack.messages()
    assert dm.channel == f"D{ALICE}"
    assert "Additions to the Entity List" in shown_text(dm)


@pytest.mark.parametrize(
    ("failing", "advance", "polled"),
    [
        # A job fires at start + interval, next_due was set at the end of the
        # last fetch: a healthy feed due within total_timeout + 5 s (10 s here)
        # is polled now.
        pytest.param(False, timedelta(seconds=57), True, id="healthy-due-in-3s-polled"),
        pytest.param(False, timedelta(seconds=61), True, id="healthy-due-polled"),
        pytest.param(False, timedelta(seconds=20), False, id="healthy-due-in-40s-skipped"),
        # Failing: backoff (300 s +-20% after one failure) is respected.
        pytest.param(True, timedelta(seconds=61), False, id="failing-in-backoff-skipped"),
        pytest.param(True, timedelta(seconds=361), True, id="failing-past-backoff-polled"),
    ],
)
def test_poll_job_honours_the_feed_state(
    tmp_path: Path,
    feed_server: FeedServer,
    poster: Deliverer,
    failing: bool,
    advance: timedelta,
    polled: bool,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/f.xml", make_rss(numbered_entries(1, 2)), status=503 if failing else 200)
    config = make_config(
        tmp_path / "data", [{"id": "f", "url": feed_server.url("/f.xml"), "interval": "1m"}]
    )
    with open_runtime(config, clock) as runtime:
        scheduler = BotScheduler(runtime, poster)
        scheduler.poll_feed("f")
        clock.now += advance
        reports = scheduler.poll_feed("f")
    assert len(feed_server.requests("/f.xml")) == (2 if polled else 1)
    assert len(reports) == (1 if polled else 0)


def test_failing_feed_gives_one_ops_notice_and_one_recovery_notice(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, poster: Deliverer
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(start)
    feed_server.add("/flaky.xml", b"down for maintenance", status=500)
    data = tmp_path / "data"
    config = make_config(
        data,
        [{"id": "flaky", "name": "Flaky feed", "url": feed_server.url("/flaky.xml")}],
        ops_channel=OPS,
    )
    runtime = open_runtime(config, clock)
    try:
        scheduler = BotScheduler(runtime, poster, failure_notice_hours=6)
        scheduler.poll_feed("flaky")
        clock.advance(hours=5, minutes=59)
        scheduler.poll_feed("flaky")
        assert message_texts(fake_slack, OPS) == []  # failing, but not for 6 hours yet

        clock.advance(minutes=2)  # 6h01m since the first failure; the feed is in backoff
        assert scheduler.poll_feed("flaky") == []
        given = scheduler.check_feed_health()  # the periodic feed-health job
        clock.advance(hours=1)
        [third] = scheduler.poll_feed("flaky")  # still failing: no second notice
        scheduler.check_feed_health()
        [notice] = message_texts(fake_slack, OPS)
    finally:
        runtime.close()
    assert given == [notice]
    assert third.status == "error"
    assert notice.startswith(
        f"Feed Flaky feed (flaky) has been failing for 6h1m (since {start:%Y-%m-%d %H:%M} UTC, "
        "2 failed polls). Last error: HTTP 500"
    )

    # A restart remembers the notice (the ops_notices table).
    runtime = open_runtime(config, clock)
    try:
        scheduler = BotScheduler(runtime, poster, failure_notice_hours=6)
        assert scheduler.check_feed_health() == []
        assert set(runtime.store.records(OPS_NOTICES_TABLE)) == {"flaky"}
        feed_server.add("/flaky.xml", make_rss(numbered_entries(1, 2)))
        clock.advance(hours=1)
        [report] = scheduler.poll_feed("flaky")
        clock.advance(hours=1)
        scheduler.poll_feed("flaky")
        scheduler.check_feed_health()
        remembered = runtime.store.records(OPS_NOTICES_TABLE)
    finally:
        runtime.close()
    assert report.status == "ok"
    assert message_texts(fake_slack, OPS) == [
        notice,
        f"Feed Flaky feed (flaky) is working again, after failing since "
        f"{start:%Y-%m-%d %H:%M} UTC (8h1m).",
    ]
    assert remembered == {}


def test_without_ops_channel_a_failing_feed_is_logged_once(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/gone.xml", b"", status=404)
    config = make_config(tmp_path / "data", [{"id": "gone", "url": feed_server.url("/gone.xml")}])
    with open_runtime(config, clock) as runtime:
        scheduler = BotScheduler(runtime, poster, failure_notice_hours=1)
        with caplog.at_level("WARNING", logger="bot.app.scheduler"):
            for _ in range(4):
                scheduler.poll_feed("gone")
                clock.advance(hours=1)
            scheduler.check_feed_health()
    notices = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ops notice")]
    assert len(notices) == 1
    assert "Feed gone (gone) has been failing for 1h" in notices[0]
    assert "HTTP 404" in notices[0]
    assert fake_slack.messages() == []


def test_retention_job_prunes_old_items_durably(
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/r.xml", make_rss(numbered_entries(1, 3)))
    config = make_config(
        tmp_path / "data", [{"id": "r", "url": feed_server.url("/r.xml")}], retention_days=1
    )
    with open_runtime(config, clock) as runtime:
        scheduler = BotScheduler(runtime, poster)
        scheduler.poll_feed("r")
        clock.advance(hours=12)
        kept = scheduler.prune_store()
        clock.advance(days=1)
        pruned = scheduler.prune_store()
        runtime.close(commit=False)  # whatever prune did is on disk already
    with Store.open(tmp_path / "data", retention_days=1) as store:
        left = store.item_count()
    assert (kept, pruned, left) == (0, 3, 0)


# -- the real scheduler thread -------------------------------------------------------------


def test_started_scheduler_polls_a_due_feed_and_shutdown_waits_for_it(
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer
) -> None:
    # The feed answers slowly, so the shutdown below lands in the middle of the poll.
    feed_server.add("/slow.xml", make_rss(numbered_entries(1, 4)), delay=0.6)
    config = make_config(tmp_path / "data", [{"id": "slow", "url": feed_server.url("/slow.xml")}])
    runtime = open_runtime(config)
    scheduler = BotScheduler(runtime, poster, jitter_fraction=0)
    try:
        scheduler.start()
        deadline = time.monotonic() + 10
        while not feed_server.requests("/slow.xml") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert feed_server.requests("/slow.xml"), "the poll job never ran"
    finally:
        scheduler.shutdown(wait=True)  # the poll in flight finishes and commits
        runtime.close(commit=False)
    with Store.open(tmp_path / "data") as store:
        stored = sorted(item.title for item in store.iter_items())
        state = store.get_feed_state("slow")
    assert stored == ["Story 1", "Story 2", "Story 3", "Story 4"]
    assert state is not None and state.first_poll_done


def test_failure_notice_hours_must_be_positive(tmp_path: Path, poster: Deliverer) -> None:
    config = make_config(tmp_path / "data", [])
    with open_runtime(config) as runtime, pytest.raises(ValueError, match="must be positive"):
        BotScheduler(runtime, poster, failure_notice_hours=0)
