"""What the scheduler's tests share: a configuration, a Runtime on a fake clock, reading Slack.

Real parts throughout: a Runtime on the test's `backend` (a TinyDB store in
tmp_path, or its own PostgreSQL database), feeds served
by the loopback `feed_server`, Slack played by `fake_slack` and reached
through the real client and Deliverer. Tests that move time use a fake clock
on the Runtime and call the job methods directly (what APScheduler would
call); the others run a real BackgroundScheduler (started paused where only
its plan is looked at). Expected digest instants are worked out by hand in
the comments, not by the code under test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.app.runtime import Runtime
from bot.config.model import Config, SlackSecrets
from bot.config.schema import parse_config_text
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack, PostedMessage

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
    admins: list[str] | None = None,
    backend: Backend | None = None,
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
    if admins:
        doc["admins"] = admins
    env = backend.env() if backend else {}
    return parse_config_text(yaml.safe_dump(doc, sort_keys=False), "test-feeds.yaml", env=env)


def make_poster(fake_slack: FakeSlack) -> Deliverer:
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
    return Deliverer(make_web_client(secrets, timeout=5, backoff=0.05), interval=0.01)


def open_runtime(config: Config, clock: FakeClock | None = None) -> Runtime:
    """The Runtime `briefbot run` would open: on the configuration's database or data directory."""
    return Runtime.open(config, clock=clock) if clock else Runtime.open(config)


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
