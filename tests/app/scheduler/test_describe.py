"""The start-up description: feeds, digests, channels and every job's next run time."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app.runtime import Runtime
from bot.app.scheduler.jobs import BotScheduler
from bot.brief.subscriptions import create_subscription
from bot.slack.deliver import Deliverer
from tests.app.scheduler.cases import (
    ALICE,
    DIGEST_CHANNEL,
    OPS,
    make_config,
    next_daily_utc,
    open_runtime,
    shown_utc,
)
from tests.support.backends import Backend
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer


def subscribe_to_stories(runtime: Runtime, owners: Sequence[str]) -> None:
    """One subscription to "story" for each owner (a channel or a person), made by Alice."""
    for owner in owners:
        with runtime.store.transaction() as tx:
            create_subscription(
                tx,
                owner=owner,
                created_by=ALICE,
                topic_or_query="story",
                topics={},
                now=runtime.clock(),
            )


def test_describe_lists_feeds_digests_channels_and_next_run_times(
    tmp_path: Path,
    feed_server: FeedServer,
    poster: Deliverer,
    schedulers: list[BotScheduler],
    backend: Backend,
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
        backend=backend,
    )
    runtime = open_runtime(config)
    try:
        runtime.poll(feed_ids={"a"})  # a was polled: its next poll is its next_due
        subscribe_to_stories(runtime, ["C0ALERTS01", ALICE])
        a_state = runtime.store.feed_states.get("a")
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
