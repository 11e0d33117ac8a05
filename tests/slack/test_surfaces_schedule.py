"""The admins' digest-schedule form end to end: Home tab button, modal, submission, digest job.

As tests/slack/test_surfaces.py: the Runtime of tests/slack/conftest.py, the
real Bolt app in HTTP mode fed signed `block_actions` and `view_submission`
payloads (tests/support/slackpayloads.py), the fake Slack keeping the views.
A real `BotScheduler` (started paused: it computes next runs, runs nothing)
listens to the configuration as `briefbot run`'s does, so the test sees what
the digest job will do once the form is saved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app.runtime import Runtime
from bot.app.scheduler.jobs import BotScheduler
from bot.app.scheduler.triggers import digest_job_id
from bot.app.surfaces import Surfaces
from bot.brief.schedule import next_digest_time
from bot.config.model import SlackSecrets
from bot.slack.app import build_app
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.http import ServerHandle, serve_http
from tests.support.fakeslack import FakeSlack
from tests.support.fakeviews import StoredView
from tests.support.slackhttp import Recorder
from tests.support.slackpayloads import (
    block_actions,
    home_opened,
    post_event,
    post_interaction,
    text_value,
    view_submission,
)
from tests.support.wsserver import wait_until

ADMIN = "U0123456789"
CHANNEL = "C0DIGEST01"
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def poster(secrets: SlackSecrets) -> Deliverer:
    return Deliverer(make_web_client(secrets))


@pytest.fixture
def scheduler(runtime: Runtime, poster: Deliverer) -> Iterator[BotScheduler]:
    jobs = BotScheduler(runtime, poster)
    jobs.start(paused=True)
    try:
        yield jobs
    finally:
        jobs.shutdown(wait=True)


@pytest.fixture
def app_server(
    runtime: Runtime, secrets: SlackSecrets, recorder: Recorder, poster: Deliverer
) -> Iterator[ServerHandle]:
    surfaces = Surfaces(runtime, poster)
    server = serve_http(build_app(secrets, recorder, surfaces=surfaces), port=0, host="127.0.0.1")
    try:
        yield server
    finally:
        server.stop()


def home_texts(fake: FakeSlack) -> str:
    view = fake.views.home(ADMIN)
    if view is None:
        return ""
    return json.dumps(view.blocks)


def open_schedule_form(app_server: ServerHandle, fake_slack: FakeSlack) -> StoredView:
    """The admin opens the Home tab and presses Digest schedule: the modal it opens."""
    post_event(app_server, home_opened(ADMIN))
    assert wait_until(lambda: fake_slack.views.home(ADMIN) is not None)
    home = fake_slack.views.home(ADMIN)
    assert home is not None
    press = block_actions("home.schedule", "schedule", user_id=ADMIN, view=home.public())
    assert post_interaction(app_server, press).status == 200
    assert wait_until(lambda: bool(fake_slack.views.modals()))
    [modal] = fake_slack.views.modals()
    assert modal.trigger_id == press["trigger_id"]
    assert modal.public()["callback_id"] == "form.schedule"
    return modal


def schedule_state(
    *, channel: str | None = CHANNEL, at: str = "07:15", zone: str = "asia/tokyo", days: str = ""
) -> dict[str, dict[str, dict[str, Any]]]:
    """The schedule modal's state as Slack sends it on submission."""
    chosen = [
        {"text": {"type": "plain_text", "text": day}, "value": day}
        for day in (days or "mon,wed,fri").split(",")
    ]
    return {
        "channel": {
            "schedule.channel": {"type": "conversations_select", "selected_conversation": channel}
        },
        "at": {"schedule.time": {"type": "timepicker", "selected_time": at}},
        "timezone": {"schedule.zone": text_value(zone)},
        "days": {"schedule.days": {"type": "checkboxes", "selected_options": chosen}},
    }


def test_the_schedule_form_saves_the_schedule_and_moves_the_digest_job(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack, scheduler: BotScheduler
) -> None:
    assert runtime.config.digest(CHANNEL) is None
    assert digest_job_id(CHANNEL) not in scheduler.next_run_times()
    modal = open_schedule_form(app_server, fake_slack)

    answer = post_interaction(
        app_server, view_submission(modal.public(), schedule_state(), user_id=ADMIN)
    )

    assert answer.status == 200 and answer.seconds < 3.0
    assert answer.body == b""  # accepted: Slack closes the modal
    # Stored as a change made from Slack, by the admin, with the zone's canonical name.
    assert wait_until(lambda: CHANNEL in runtime.store.overrides.schedules())
    stored = runtime.store.overrides.schedules()[CHANNEL]
    assert (stored.at, stored.timezone, stored.days, stored.by) == (
        "07:15",
        "Asia/Tokyo",
        "mon,wed,fri",
        ADMIN,
    )
    # The runtime applies the stored change just after storing it: awaited, not raced.
    assert wait_until(lambda: runtime.config.digest(CHANNEL) is not None)
    digest = runtime.config.digest(CHANNEL)
    assert digest is not None
    assert (digest.at, digest.timezone) == (time(7, 15), "Asia/Tokyo")
    assert digest.days == frozenset({0, 2, 4})
    # The digest job: next at 07:15 Tokyo time on a Monday, Wednesday or Friday.
    assert wait_until(lambda: scheduler.next_run_times().get(digest_job_id(CHANNEL)) is not None)
    when = scheduler.next_run_times()[digest_job_id(CHANNEL)]
    assert when is not None
    local = when.astimezone(TOKYO)
    assert (local.hour, local.minute) == (7, 15) and local.weekday() in (0, 2, 4)
    assert when == next_digest_time(digest, runtime.clock())
    assert any(
        line.startswith(f"digest {CHANNEL}: 07:15 Asia/Tokyo mon,wed,fri, next ")
        and f"{local:%Y-%m-%d} 07:15 JST" in line
        for line in scheduler.describe()
    )
    # The Home tab says what was saved.
    saved = f"Saved: the digest of channel {CHANNEL} at 07:15 Asia/Tokyo, on mon, wed, fri."
    assert wait_until(lambda: saved in home_texts(fake_slack)), home_texts(fake_slack)


@pytest.mark.parametrize(
    ("state", "block", "words"),
    [
        pytest.param(schedule_state(at="25:61"), "at", "25:61", id="bad-time"),
        pytest.param(schedule_state(zone="Mars/Olympus"), "timezone", "Mars/Olympus", id="zone"),
        pytest.param(schedule_state(channel=None), "channel", "Pick a channel", id="no-channel"),
        pytest.param(schedule_state(channel="U0ALICE"), "channel", "Pick a channel", id="a-user"),
    ],
)
def test_a_bad_schedule_comes_back_as_an_error_on_its_block(
    app_server: ServerHandle,
    runtime: Runtime,
    fake_slack: FakeSlack,
    scheduler: BotScheduler,
    state: dict[str, dict[str, dict[str, Any]]],
    block: str,
    words: str,
) -> None:
    modal = open_schedule_form(app_server, fake_slack)
    answer = post_interaction(app_server, view_submission(modal.public(), state, user_id=ADMIN))

    assert answer.status == 200 and answer.seconds < 3.0
    body = json.loads(answer.body)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [block]
    assert words in body["errors"][block]
    assert runtime.store.overrides.schedules() == {}
    assert runtime.config.digest(CHANNEL) is None
    assert digest_job_id(CHANNEL) not in scheduler.next_run_times()
