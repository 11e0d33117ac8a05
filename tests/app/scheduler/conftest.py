"""Fixtures of the scheduler's tests: the Slack poster, and schedulers shut down after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app.scheduler.jobs import BotScheduler
from bot.slack.deliver import Deliverer
from tests.app.scheduler.cases import make_poster
from tests.support.fakeslack import FakeSlack


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
