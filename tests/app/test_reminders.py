"""Deadline reminders end to end: a Federal Register feed and the documents API on loopback ->
poll and enrichment -> `/brief subscribe` -> the reminder job -> the fake Slack, over days of a
fake clock, across a restart, a correction that moves the date, `remind:off` and time zones.

The recorded rule 2023-27783 ("Carrier Automated Tariffs", 89 FR 25) takes effect on
Thu 1 Feb 2024; the harness's clock starts on 10 Jan 2024.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.fedreg import enrich_documents
from bot.app.reminders import send_reminders
from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.deliver.reminders import ReminderReport
from bot.slack.deliver import Deliverer
from tests.app.commands.cases import run, slack_text
from tests.app.fedreg_harness import Clock, new_api, open_runtime, serve_feed
from tests.app.scheduler.cases import make_poster
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.fedregapi import DocumentsApi
from tests.support.feedserver import FeedServer

NEW_YORK = "U0NEWYORK1"
TOKYO = "U0TOKYO001"
RULE = "Carrier Automated Tariffs"


@pytest.fixture
def api() -> Iterator[DocumentsApi]:
    with new_api() as served:
        yield served


@pytest.fixture
def poster(fake_slack: FakeSlack) -> Deliverer:
    fake_slack.add_user(NEW_YORK, tz="America/New_York")
    fake_slack.add_user(TOKYO, tz="Asia/Tokyo")
    return make_poster(fake_slack)


def _enriched(
    feed_server: FeedServer, api: DocumentsApi, tmp_path: Path, clock: Clock, backend: Backend
) -> None:
    """The feed polled and its documents enriched, in a runtime closed again."""
    serve_feed(feed_server)
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        runtime.poll(force=True)
        assert len(enrich_documents(runtime).enriched) == 3


def _remind_at(runtime: Runtime, poster: Deliverer, clock: Clock, when: datetime) -> ReminderReport:
    clock.now = when
    return send_reminders(runtime, poster)


def _dms(fake_slack: FakeSlack, user: str) -> list[str]:
    """What the user reads in each DM (Slack shows *bold* and `code` without their marks)."""
    shown = (slack_text(m) for m in fake_slack.messages("D" + user))
    return [text.replace("*", "").replace("`", "") for text in shown]


def test_each_reminder_reaches_slack_once_on_the_subscribers_clock_across_a_restart(
    feed_server: FeedServer,
    api: DocumentsApi,
    tmp_path: Path,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = Clock()
    _enriched(feed_server, api, tmp_path, clock, backend=backend)
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        reply = run(runtime, "subscribe bis", user=NEW_YORK, poster=poster)
        assert "reminders 7 and 1 days before a deadline" in reply
        [sub] = runtime.store.subscriptions.list(owner=NEW_YORK)
        assert sub.timezone == "America/New_York"
        # 08:59 in New York on 25 Jan: not yet.
        assert (
            _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 13, 59, tzinfo=UTC)).sent == 0
        )
        report = _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 14, 5, tzinfo=UTC))
        assert (report.sent, report.messages) == (1, 1)
        [week] = _dms(fake_slack, NEW_YORK)
        assert week.startswith(f"Takes effect in 7 days (Thu 1 Feb): {RULE}\n")
        assert "Final rule · 46 CFR 520 · effective 1 Feb · 89 FR 25" in week
        assert f"For: topic bis ({sub.id})" in week
        assert (
            f"Subscription {sub.id} sends reminders 7 and 1 days before a deadline. "
            f"/brief remind {sub.id} off stops them" in week
        )
        [posted] = fake_slack.messages("D" + NEW_YORK)
        assert posted.text == f"Takes effect in 7 days (Thu 1 Feb): {RULE}"  # the notification
        # Again the same morning: nothing more.
        assert (
            _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 15, 0, tzinfo=UTC)).sent == 0
        )

    # A restart: a fresh runtime on the same data directory sends nothing twice.
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        assert (
            _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 16, 0, tzinfo=UTC)).sent == 0
        )
        assert len(_dms(fake_slack, NEW_YORK)) == 1
        _remind_at(runtime, poster, clock, datetime(2024, 1, 31, 14, 5, tzinfo=UTC))
        _remind_at(runtime, poster, clock, datetime(2024, 1, 31, 20, 0, tzinfo=UTC))
        _remind_at(runtime, poster, clock, datetime(2024, 2, 1, 14, 5, tzinfo=UTC))
    shown = _dms(fake_slack, NEW_YORK)
    assert len(shown) == 2
    assert shown[1].startswith(f"Takes effect tomorrow (Thu 1 Feb): {RULE}\n")


def test_a_correction_that_moves_the_date_replans_the_reminders(
    feed_server: FeedServer,
    api: DocumentsApi,
    tmp_path: Path,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = Clock()
    _enriched(feed_server, api, tmp_path, clock, backend=backend)
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        run(runtime, "subscribe bis", user=NEW_YORK, poster=poster)
        _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 14, 5, tzinfo=UTC))
        assert len(_dms(fake_slack, NEW_YORK)) == 1
        # The rule is delayed a week; the next look at the document (every 12 h) sees it.
        api.set_dates("2023-27783", effective_on="2024-02-08")
        clock.now = datetime(2024, 1, 27, 12, 0, tzinfo=UTC)
        assert enrich_documents(runtime).changes == {"2023-27783": ("effective 1 Feb -> 8 Feb",)}
        # The old date's 1-day reminder never goes out ...
        _remind_at(runtime, poster, clock, datetime(2024, 1, 31, 14, 5, tzinfo=UTC))
        assert len(_dms(fake_slack, NEW_YORK)) == 1
        # ... the new date's reminders do, each once.
        for day in (1, 2, 7, 8):
            _remind_at(runtime, poster, clock, datetime(2024, 2, day, 14, 5, tzinfo=UTC))
            _remind_at(runtime, poster, clock, datetime(2024, 2, day, 15, 0, tzinfo=UTC))
        assert len(runtime.store.reminders.keys()) == 3
        # A week after the last deadline its records are forgotten; nothing is sent again.
        _remind_at(runtime, poster, clock, datetime(2024, 2, 16, 14, 5, tzinfo=UTC))
        assert runtime.store.reminders.keys() == set()
    old, new_week, new_day = _dms(fake_slack, NEW_YORK)
    assert old.startswith(f"Takes effect in 7 days (Thu 1 Feb): {RULE}")
    assert new_week.startswith(f"Takes effect in 7 days (Thu 8 Feb): {RULE}")
    assert "effective 8 Feb · 89 FR 25 (effective 1 Feb -> 8 Feb)" in new_week
    assert new_day.startswith(f"Takes effect tomorrow (Thu 8 Feb): {RULE}")


def test_remind_off_gets_none_and_each_zone_is_reminded_at_its_own_nine(
    feed_server: FeedServer,
    api: DocumentsApi,
    tmp_path: Path,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = Clock()
    _enriched(feed_server, api, tmp_path, clock, backend=backend)
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        run(runtime, "subscribe bis", user=TOKYO, poster=poster)
        off = run(runtime, "subscribe bis remind:off", user=NEW_YORK, poster=poster)
        assert "as soon as new items match; no deadline reminders." in off
        # 09:00 in Tokyo on 25 Jan is midnight UTC.
        assert (
            _remind_at(runtime, poster, clock, datetime(2024, 1, 24, 23, 59, tzinfo=UTC)).sent == 0
        )
        assert _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 0, 0, tzinfo=UTC)).sent == 1
        for hour in range(1, 24):
            _remind_at(runtime, poster, clock, datetime(2024, 1, 25, hour, 0, tzinfo=UTC))
    assert [t.split("\n")[0] for t in _dms(fake_slack, TOKYO)] == [
        f"Takes effect in 7 days (Thu 1 Feb): {RULE}"
    ]
    assert _dms(fake_slack, NEW_YORK) == []


def test_remind_changes_an_existing_subscription(
    feed_server: FeedServer,
    api: DocumentsApi,
    tmp_path: Path,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = Clock()
    _enriched(feed_server, api, tmp_path, clock, backend=backend)
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        run(runtime, "subscribe bis", user=NEW_YORK, poster=poster)
        [sub] = runtime.store.subscriptions.list(owner=NEW_YORK)
        assert run(runtime, f"remind {sub.id.upper()} 3", user=NEW_YORK) == (
            f"Subscription {sub.id} (topic bis): a reminder 3 days before a deadline."
        )
        assert "Remind: 90 days is too far ahead" in run(
            runtime, f"remind {sub.id} 90", user=NEW_YORK
        )
        assert "You cannot change subscription" in run(runtime, f"remind {sub.id} off", user=TOKYO)
        assert f"{sub.id}: topic bis · as soon as new items match · a reminder 3 days before" in (
            run(runtime, "subscriptions", user=NEW_YORK)
        )
        _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 14, 5, tzinfo=UTC))
        _remind_at(runtime, poster, clock, datetime(2024, 1, 29, 14, 5, tzinfo=UTC))
        run(runtime, f"remind {sub.id} off", user=NEW_YORK)
        _remind_at(runtime, poster, clock, datetime(2024, 1, 31, 14, 5, tzinfo=UTC))
    [only] = _dms(fake_slack, NEW_YORK)
    assert only.startswith(f"Takes effect in 3 days (Thu 1 Feb): {RULE}")


def test_a_channel_the_bot_is_not_in_is_told_once_and_not_retried(
    feed_server: FeedServer,
    api: DocumentsApi,
    tmp_path: Path,
    fake_slack: FakeSlack,
    poster: Deliverer,
    backend: Backend,
) -> None:
    clock = Clock()
    _enriched(feed_server, api, tmp_path, clock, backend=backend)
    fake_slack.add_channel("C0DESK0001", member=False)
    with open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime:
        with runtime.store.transaction() as tx:
            create_subscription(
                tx,
                owner="C0DESK0001",
                created_by=NEW_YORK,
                topic_or_query="bis",
                topics=runtime.topics(),
                now=clock(),
            )
        first = _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 9, 5, tzinfo=UTC))
        assert "invite the bot with /invite @briefbot" in first.failed_owners["C0DESK0001"]
        assert "C0DESK0001" in runtime.delivery_errors()
        posts = len(fake_slack.calls("chat.postMessage"))
        again = _remind_at(runtime, poster, clock, datetime(2024, 1, 25, 10, 0, tzinfo=UTC))
        assert again.failed_owners == {} and len(fake_slack.calls("chat.postMessage")) == posts
    assert fake_slack.messages("C0DESK0001") == []
