"""A `monthly: true` digest: last month's briefing with the first digest of a month, once.

Over a store of recorded Federal Register items (tests/support/recorded.py),
the digest job runs with a hand-moved clock against the fake Slack: the
briefing lands once, its Entity List chart follows in its thread as a PNG
whose drawn totals are the month's additions (computed from the fixtures),
later runs that month and a restart send nothing more, and an outage is
made good by the next run.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app.runtime import Runtime
from bot.app.scheduler.jobs import BotScheduler
from bot.slack.deliver import Deliverer
from tests.app.commands.test_charts import DATES
from tests.app.scheduler.cases import FakeClock
from tests.render.test_charts import png_size
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedserver import FeedServer
from tests.support.recorded import (
    ENTITY_DOCS,
    FR_DOCS,
    added_by_destination,
    recorded_config,
    store_recorded,
)

CHANNEL = "C0MONTHLY1"
DIGEST = (
    f"digests:\n  - channel: {CHANNEL}\n    at: '08:30'\n    timezone: UTC\n    monthly: true\n"
)
FIRST_DAY = datetime(2024, 2, 1, 8, 30, 10, tzinfo=UTC)


def january_additions() -> Counter[str]:
    counts: Counter[str] = Counter()
    for doc, when in zip(ENTITY_DOCS, DATES, strict=True):
        if (when.year, when.month) == (2024, 1):
            counts.update(added_by_destination(doc["document_number"]))
    return counts


def open_recorded(tmp_path: Path, clock: FakeClock, backend: Backend) -> tuple[Runtime, FeedServer]:
    server = FeedServer().start()
    config = recorded_config(server, tmp_path / "data", extra=DIGEST, env=backend.env())
    runtime = Runtime.open(config, clock=clock)
    return runtime, server


def monthly_posts(fake: FakeSlack) -> list[str]:
    return [m.text for m in fake.messages(CHANNEL) if m.text.startswith("Monthly briefing")]


def test_the_briefing_and_its_chart_go_out_once_a_month(
    tmp_path: Path, fake_slack: FakeSlack, poster: Deliverer, backend: Backend
) -> None:
    clock = FakeClock(datetime(2024, 1, 31, 12, tzinfo=UTC))
    runtime, server = open_recorded(tmp_path, clock, backend)
    try:
        store_recorded(runtime, server, DATES)
        clock.now = FIRST_DAY
        scheduler = BotScheduler(runtime, poster)
        scheduler.send_digest(CHANNEL)
        clock.advance(days=1)
        scheduler.send_digest(CHANNEL)  # the second digest day of February: no second one
    finally:
        runtime.close()
        server.stop()

    [briefing] = [m for m in fake_slack.messages(CHANNEL) if m.text.startswith("Monthly")]
    in_january = len(FR_DOCS) + sum(1 for when in DATES if (when.year, when.month) == (2024, 1))
    assert briefing.text.startswith(f"Monthly briefing January 2024: {in_january} items")
    assert any("chart is in the thread" in str(b) for b in briefing.blocks or [])
    [chart] = fake_slack.files(CHANNEL)
    assert chart.thread_ts == briefing.ts
    width, height = png_size(chart.content)
    assert 1000 <= width <= 1600 and 500 <= height <= 900
    total = sum(january_additions().values())
    assert (
        chart.title
        == f"Entity List additions by destination, January 2024: {total} entries in 4 rules"
    )
    assert chart.filename == "entity-list-2024-01.png"

    # A restart later in February: the ledger says it was sent.
    clock.advance(days=5)
    runtime = Runtime.open(runtime.base_config, clock=clock)
    try:
        outcome = BotScheduler(runtime, poster).send_monthly(runtime.config.digests[0])
    finally:
        runtime.close()
    assert outcome.status == "already-sent"
    assert len(monthly_posts(fake_slack)) == 1 and len(fake_slack.files()) == 1


def test_an_outage_is_made_good_by_the_next_digest_day(
    tmp_path: Path, fake_slack: FakeSlack, poster: Deliverer, backend: Backend
) -> None:
    clock = FakeClock(datetime(2024, 1, 31, 12, tzinfo=UTC))
    runtime, server = open_recorded(tmp_path, clock, backend)
    try:
        store_recorded(runtime, server, DATES)
        clock.now = FIRST_DAY
        scheduler = BotScheduler(runtime, poster)
        fake_slack.add_channel(CHANNEL, member=False)
        failed = scheduler.send_monthly(runtime.config.digests[0])
        assert failed.status == "failed" and failed.error and "not_in_channel" in failed.error
        assert "not_in_channel" in runtime.delivery_errors()[CHANNEL].error
        fake_slack.add_channel(CHANNEL, member=True)
        clock.advance(days=1)
        sent = scheduler.send_monthly(runtime.config.digests[0])
        again = scheduler.send_monthly(runtime.config.digests[0])
    finally:
        runtime.close()
        server.stop()
    assert (sent.status, sent.chart, again.status) == ("sent", True, "already-sent")
    assert len(monthly_posts(fake_slack)) == 1 and len(fake_slack.files(CHANNEL)) == 1


def test_a_digest_without_monthly_sends_none(
    tmp_path: Path, fake_slack: FakeSlack, poster: Deliverer, backend: Backend
) -> None:
    clock = FakeClock(FIRST_DAY - timedelta(days=1))
    server = FeedServer().start()
    extra = DIGEST.replace("    monthly: true\n", "")
    config = recorded_config(server, tmp_path / "data", extra=extra, env=backend.env())
    runtime = Runtime.open(config, clock=clock)
    try:
        store_recorded(runtime, server, DATES)
        clock.now = FIRST_DAY
        BotScheduler(runtime, poster).send_digest(CHANNEL)
    finally:
        runtime.close()
        server.stop()
    assert monthly_posts(fake_slack) == [] and fake_slack.files() == []
