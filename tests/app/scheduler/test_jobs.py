"""`BotScheduler`: jobs per feed and digest, config sync, digest slots, polls, health notices."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.scheduler.jobs import BotScheduler
from bot.brief.subscriptions import create_subscription
from bot.config.model import Config
from bot.models import CommandRequest, FeedState
from bot.slack.deliver import Deliverer
from tests.app.scheduler.cases import (
    ALICE,
    DIGEST_CHANNEL,
    OPS,
    FakeClock,
    make_config,
    message_texts,
    next_daily_utc,
    open_runtime,
    shown_text,
)
from tests.support.backends import Backend, BackendKind, fresh_backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, blank_line_first, make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import FEED_TOKEN


def test_no_job_for_a_paused_feed_and_every_other_job_scheduled(
    tmp_path: Path,
    feed_server: FeedServer,
    poster: Deliverer,
    schedulers: list[BotScheduler],
    backend: Backend,
) -> None:
    config = make_config(
        tmp_path / "data",
        [
            {"id": "on", "url": feed_server.url("/on.xml")},
            {"id": "off", "url": feed_server.url("/off.xml"), "enabled": False},
        ],
        digests=[{"channel": DIGEST_CHANNEL, "at": "07:00", "timezone": "UTC"}],
        backend=backend,
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
        "fr-enrich",
        "poll:on",
        "reminders",
        "retention",
        "serial",
    ]
    assert all(when is not None for when in runs.values())
    assert line.startswith("feed health: no ops_channel, notices only logged after 6h failing")


# -- config changes from Slack take effect without a restart --------------------------------


def changed_config(data: Path, urls: Mapping[str, str], backend: Backend) -> Config:
    """Feed a every 2m, b gone, d added; the Tokyo digest at 09:15, a London one added."""
    return make_config(
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
        backend=backend,
    )


def test_sync_jobs_after_a_config_change_adds_moves_and_removes_jobs(
    tmp_path: Path,
    feed_server: FeedServer,
    poster: Deliverer,
    schedulers: list[BotScheduler],
    backend: Backend,
) -> None:
    data = tmp_path / "data"
    urls = {name: feed_server.url(f"/{name}.xml") for name in ("a", "b", "d")}
    config = make_config(
        data,
        [{"id": "a", "url": urls["a"], "interval": "1m"}, {"id": "b", "url": urls["b"]}],
        digests=[{"channel": DIGEST_CHANNEL, "at": "08:30", "timezone": "Asia/Tokyo"}],
        backend=backend,
    )
    changed = changed_config(data, urls, backend=backend)
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


def test_digest_job_sends_once_per_slot_and_agrees_with_catch_up(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
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
        backend=backend,
    )
    runtime = open_runtime(config, clock)
    try:
        scheduler = BotScheduler(runtime, poster)
        # Start-up: the service's catch-up sees the channel first now (nothing was missed).
        assert runtime.catch_up_digests(poster) == []
        scheduler.poll_feed("n")  # backlog: never in a digest
        assert runtime.build_digest(config.digests[0])[1] == []
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


def test_a_digest_scheduled_from_slack_is_sent_at_its_first_slot(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    slot = start + timedelta(hours=2)
    clock = FakeClock(start)
    old = numbered_entries(1, 2, prefix="Old chip")
    feed_server.add("/n.xml", make_rss(old))
    config = make_config(
        tmp_path / "data",
        [{"id": "n", "url": feed_server.url("/n.xml"), "interval": "1m"}],
        topics=[{"id": "chips", "query": "chip"}],
        admins=[ALICE],
        backend=backend,
    )
    runtime = open_runtime(config, clock)
    try:
        scheduler = BotScheduler(runtime, poster)
        assert runtime.catch_up_digests(poster) == []  # start-up: no digest configured
        scheduler.poll_feed("n")  # backlog
        request = CommandRequest(ALICE, DIGEST_CHANNEL, f"schedule {slot:%H:%M} UTC")
        reply = handle_command(runtime, request)
        assert "Schedule saved." in reply.messages[0].text
        new_entry = Entry("New chip export rule", "https://example.org/chip-rule", guid="rule-1")
        feed_server.add("/n.xml", make_rss([new_entry, *old]))
        clock.advance(minutes=30)
        scheduler.poll_feed("n")

        clock.now = slot + timedelta(seconds=10)  # the job fires just after its first slot
        outcome = scheduler.send_digest(DIGEST_CHANNEL)
    finally:
        runtime.close()
    assert outcome is not None and outcome.status == "sent"
    [posted] = fake_slack.messages(DIGEST_CHANNEL)
    assert "New chip export rule" in shown_text(posted)


# -- poll jobs: due times, alerts, feed-health notices -------------------------------------


def test_poll_job_stores_items_and_sends_one_dm_to_the_subscriber(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    backlog = numbered_entries(1, 3, prefix="Notice")
    feed_server.add("/fr.xml", make_rss(backlog))
    config = make_config(
        tmp_path / "data",
        [{"id": "fr", "url": feed_server.url("/fr.xml"), "interval": "1m"}],
        backend=backend,
    )
    runtime = open_runtime(config, clock)
    try:
        with runtime.store.transaction() as tx:
            create_subscription(
                tx,
                owner=ALICE,
                created_by=ALICE,
                topic_or_query='"entity list"',
                topics=runtime.topics(),
                now=clock(),
            )
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
        titles = sorted(item.title for item in runtime.store.items.after() if not item.backlog)
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
    backend: Backend,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/f.xml", make_rss(numbered_entries(1, 2)), status=503 if failing else 200)
    config = make_config(
        tmp_path / "data",
        [{"id": "f", "url": feed_server.url("/f.xml"), "interval": "1m"}],
        backend=backend,
    )
    with open_runtime(config, clock) as runtime:
        scheduler = BotScheduler(runtime, poster)
        scheduler.poll_feed("f")
        clock.now += advance
        reports = scheduler.poll_feed("f")
    assert len(feed_server.requests("/f.xml")) == (2 if polled else 1)
    assert len(reports) == (1 if polled else 0)


def test_failing_feed_gives_one_ops_notice_and_one_recovery_notice(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    clock = FakeClock(start)
    feed_server.add("/flaky.xml", b"down for maintenance", status=500)
    data = tmp_path / "data"
    config = make_config(
        data,
        [{"id": "flaky", "name": "Flaky feed", "url": feed_server.url("/flaky.xml")}],
        ops_channel=OPS,
        backend=backend,
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

    # A restart remembers the notice (the ops notices in the store).
    runtime = open_runtime(config, clock)
    try:
        scheduler = BotScheduler(runtime, poster, failure_notice_hours=6)
        assert scheduler.check_feed_health() == []
        assert set(runtime.store.ops_notices.all()) == {"flaky"}
        feed_server.add("/flaky.xml", make_rss(numbered_entries(1, 2)))
        clock.advance(hours=1)
        [report] = scheduler.poll_feed("flaky")
        clock.advance(hours=1)
        scheduler.poll_feed("flaky")
        scheduler.check_feed_health()
        remembered = runtime.store.ops_notices.all()
    finally:
        runtime.close()
    assert report.status == "ok"
    assert message_texts(fake_slack, OPS) == [
        notice,
        f"Feed Flaky feed (flaky) is working again, after failing since "
        f"{start:%Y-%m-%d %H:%M} UTC (8h1m).",
    ]
    assert remembered == {}


def test_an_empty_feed_read_with_a_warning_gives_no_failure_notice(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/quiet.xml", blank_line_first(make_rss([])))
    config = make_config(
        tmp_path / "data",
        [{"id": "quiet", "url": feed_server.url("/quiet.xml"), "interval": "1h"}],
        ops_channel=OPS,
        backend=backend,
    )
    with open_runtime(config, clock) as runtime:
        scheduler = BotScheduler(runtime, poster, failure_notice_hours=1)
        statuses = []
        for _ in range(4):
            statuses += [report.status for report in scheduler.poll_feed("quiet")]
            clock.advance(hours=2)
        given = scheduler.check_feed_health()
        state = runtime.store.feed_states.get("quiet")
    assert statuses == ["ok"] * 4
    assert state is not None and state.consecutive_failures == 0
    assert given == [] and message_texts(fake_slack, OPS) == []


def test_an_ops_notice_shows_an_old_stored_error_without_feed_credentials(
    tmp_path_factory: pytest.TempPathFactory,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend_kind: BackendKind,
) -> None:
    # An older version stored the error as the fetcher worded it, token and all;
    # the data directory is outside tmp_path, which the secret-leak detector scans,
    # and the database is not scanned (scan_secrets=False).
    with fresh_backend(backend_kind, scan_secrets=False) as backend:
        ops_notice_of_an_old_error(tmp_path_factory, fake_slack, poster, backend)


def ops_notice_of_an_old_error(
    tmp_path_factory: pytest.TempPathFactory,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    data = tmp_path_factory.mktemp("older") / "data"
    url = "http://127.0.0.1:9/old.xml"
    stored = f"redirect loop: {url}?token={FEED_TOKEN} -> {url}?token={FEED_TOKEN}"
    config = make_config(
        data, [{"id": "old", "name": "Old feed", "url": url}], ops_channel=OPS, backend=backend
    )
    with open_runtime(config, FakeClock(start)) as runtime:
        with runtime.store.transaction() as tx:
            tx.feed_states.put(
                FeedState(
                    "old",
                    consecutive_failures=5,
                    failing_since=start - timedelta(hours=7),
                    last_error=stored,
                    next_due=start + timedelta(hours=1),
                )
            )
        given = BotScheduler(runtime, poster, failure_notice_hours=6).check_feed_health()
    [posted] = message_texts(fake_slack, OPS)
    [notice] = given
    assert f"Last error: redirect loop: {url}?token=*** -> {url}?token=***. Its news" in notice
    assert f"Last error: redirect loop: {url}?token=*** -&gt; {url}?token=***. Its news" in posted


def test_without_ops_channel_a_failing_feed_is_logged_once(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    poster: Deliverer,
    caplog: pytest.LogCaptureFixture,
    backend: Backend,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/gone.xml", b"", status=404)
    config = make_config(
        tmp_path / "data", [{"id": "gone", "url": feed_server.url("/gone.xml")}], backend=backend
    )
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
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer, backend: Backend
) -> None:
    clock = FakeClock(datetime.now(UTC))
    feed_server.add("/r.xml", make_rss(numbered_entries(1, 3)))
    config = make_config(
        tmp_path / "data",
        [{"id": "r", "url": feed_server.url("/r.xml")}],
        retention_days=1,
        backend=backend,
    )
    with open_runtime(config, clock) as runtime:
        scheduler = BotScheduler(runtime, poster)
        scheduler.poll_feed("r")
        clock.advance(hours=12)
        kept = scheduler.prune_store()
        clock.advance(days=1)
        pruned = scheduler.prune_store()
        # Durable on return: a reader of the directory sees the prune at once.
        with backend.open(tmp_path / "data", retention_days=1, read_only=True) as snapshot:
            seen_while_open = snapshot.items.count()
    with backend.open(tmp_path / "data", retention_days=1) as store:
        left = store.items.count()
    assert (kept, pruned, seen_while_open, left) == (0, 3, 0, 0)


# -- the real scheduler thread -------------------------------------------------------------


def test_started_scheduler_polls_a_due_feed_and_shutdown_waits_for_it(
    tmp_path: Path, feed_server: FeedServer, poster: Deliverer, backend: Backend
) -> None:
    # The feed answers slowly, so the shutdown below lands in the middle of the poll.
    feed_server.add("/slow.xml", make_rss(numbered_entries(1, 4)), delay=0.6)
    config = make_config(
        tmp_path / "data", [{"id": "slow", "url": feed_server.url("/slow.xml")}], backend=backend
    )
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
        runtime.close()
    with backend.open(tmp_path / "data") as store:
        stored = sorted(item.title for item in store.items.after())
        state = store.feed_states.get("slow")
    assert stored == ["Story 1", "Story 2", "Story 3", "Story 4"]
    assert state is not None and state.first_poll_done


def test_failure_notice_hours_must_be_positive(
    tmp_path: Path, poster: Deliverer, backend: Backend
) -> None:
    config = make_config(tmp_path / "data", [], backend=backend)
    with open_runtime(config) as runtime, pytest.raises(ValueError, match="must be positive"):
        BotScheduler(runtime, poster, failure_notice_hours=0)
