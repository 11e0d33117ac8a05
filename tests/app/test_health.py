"""`bot.app.health`: what "healthy" means for `briefbot health` and `/healthz`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app.health import SLACK_CHECK_SECONDS, SlackWatch, assess, assess_replicas
from bot.config.model import SlackSecrets
from bot.config.schema import parse_config_text
from bot.models import FeedState
from bot.slack.client import make_web_client
from bot.store.ports import Heartbeat
from tests.support.fakeslack import FakeSlack

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
CONFIG = parse_config_text(
    "feeds:\n"
    "  - id: fast\n    url: https://example.org/fast.xml\n    interval: 15m\n"
    "  - id: slow\n    url: https://example.org/slow.xml\n    interval: 6h\n"
    "  - id: paused\n    url: https://example.org/p.xml\n    interval: 5m\n    enabled: false\n",
    "feeds.yaml",
    env={},
)


def beat(seconds_ago: float, *, ok: bool = True, detail: str = "") -> Heartbeat:
    at = NOW - timedelta(seconds=seconds_ago)
    return Heartbeat(at=at, pid=77, slack_mode="http", slack_ok=ok, slack_detail=detail)


def polled(minutes_ago: float) -> dict[str, FeedState]:
    when = NOW - timedelta(minutes=minutes_ago)
    return {"slow": FeedState("slow", last_attempt=when, last_success=when)}


@pytest.mark.parametrize(
    ("heartbeat", "states", "healthy", "lines"),
    [
        pytest.param(
            beat(10),
            polled(3),
            True,
            [
                "service: running (pid 77, heartbeat 10 s ago)",
                "slack: ok (HTTP mode)",
                "polls: running (last 3 min ago)",
            ],
            id="working",
        ),
        pytest.param(
            None,
            polled(3),
            False,
            ["service: no heartbeat: `briefbot run` is not running here"],
            id="never-started",
        ),
        pytest.param(
            beat(600),
            polled(3),
            False,
            [
                "service: last heartbeat 600 s ago (pid 77): stopped?",
                "slack: ok (HTTP mode)",
                "polls: running (last 3 min ago)",
            ],
            id="stopped",
        ),
        pytest.param(
            beat(10, ok=False, detail="auth.test failed: SlackApiError"),
            polled(3),
            False,
            [
                "service: running (pid 77, heartbeat 10 s ago)",
                "slack: not working (HTTP mode): auth.test failed: SlackApiError",
                "polls: running (last 3 min ago)",
            ],
            id="slack-refuses",
        ),
        pytest.param(
            beat(10),
            polled(36),  # the shortest enabled interval is 15 min: allowed 2 x 15 + 5
            False,
            [
                "service: running (pid 77, heartbeat 10 s ago)",
                "slack: ok (HTTP mode)",
                "polls: none for 36 min (expected every 15 min)",
            ],
            id="polls-stopped",
        ),
        pytest.param(
            beat(10),
            {},
            False,
            [
                "service: running (pid 77, heartbeat 10 s ago)",
                "slack: ok (HTTP mode)",
                "polls: no feed polled yet",
            ],
            id="never-polled",
        ),
    ],
)
def test_assess_names_what_works_and_what_does_not(
    heartbeat: Heartbeat | None, states: dict[str, FeedState], healthy: bool, lines: list[str]
) -> None:
    report = assess(heartbeat, states, CONFIG, NOW)
    assert (report.healthy, report.lines) == (healthy, lines)
    assert report.text.startswith("healthy\n" if healthy else "unhealthy\n")


def test_http_mode_asks_slack_at_most_every_few_minutes_and_sees_it_fail(
    fake_slack: FakeSlack,
) -> None:
    client = make_web_client(
        SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url), max_retries=0
    )
    clock = [1000.0]
    watch = SlackWatch(socket_mode=False, auth_test=client.auth_test, monotonic=lambda: clock[0])

    assert watch() == (True, "")
    fake_slack.down("refuse")
    clock[0] += SLACK_CHECK_SECONDS - 1
    assert watch() == (True, ""), "the answer is remembered between checks"
    clock[0] += 1
    ok, detail = watch()
    assert not ok and detail.startswith("auth.test failed: ")
    assert fake_slack.token not in detail
    assert [c.method for c in fake_slack.calls()].count("auth.test") == 1


class Connection:
    def __init__(self) -> None:
        self.up = False

    def is_connected(self) -> bool:
        return self.up


def test_socket_mode_asks_the_connection() -> None:
    watch = SlackWatch(socket_mode=True, auth_test=lambda: None, monotonic=lambda: 0.0)
    assert watch() == (False, "the Socket Mode connection is not open yet")
    connection = Connection()
    watch.connection = connection
    assert watch() == (False, "the Socket Mode connection is down (reconnecting)")
    connection.up = True
    assert watch() == (True, "")


def replica(name: str, seconds_ago: float, *, leader: bool, ok: bool = True) -> Heartbeat:
    at = NOW - timedelta(seconds=seconds_ago)
    return Heartbeat(
        at=at,
        pid=100 + len(name),
        slack_mode="http",
        slack_ok=ok,
        slack_detail="" if ok else "auth.test failed: SlackApiError",
        replica=name,
        host=name.split(":")[0],
        leader=leader,
    )


def test_two_replicas_a_live_leader_is_healthy_and_a_stale_replica_is_named() -> None:
    beats = [replica("web-a:1:aa", 5, leader=True), replica("web-b:2:bb", 400, leader=False)]
    report = assess_replicas(beats, polled(3), CONFIG, NOW)
    assert report.healthy
    assert report.lines == [
        "service: 1 of 2 replicas live, the leader web-a:1:aa",
        "replica web-a:1:aa (leader, pid 110 on web-a): heartbeat 5 s ago, slack ok (HTTP mode)",
        "replica web-b:2:bb: stale, last heartbeat 400 s ago (pid 110 on web-b)",
        "polls: running (last 3 min ago)",
    ]


def test_two_replicas_without_a_live_leader_are_unhealthy() -> None:
    beats = [replica("web-a:1:aa", 400, leader=True), replica("web-b:2:bb", 5, leader=False)]
    report = assess_replicas(beats, polled(3), CONFIG, NOW)
    assert not report.healthy
    assert report.lines[0] == (
        "service: 1 of 2 replicas live: none leads (matching, alerts and retention wait)"
    )
    assert "replica web-a:1:aa: stale, last heartbeat 400 s ago (pid 110 on web-a)" in report.lines


def test_a_live_replica_that_cannot_reach_slack_is_unhealthy() -> None:
    beats = [replica("a:1:aa", 5, leader=True), replica("b:2:bb", 5, leader=False, ok=False)]
    report = assess_replicas(beats, polled(3), CONFIG, NOW)
    assert not report.healthy
    assert report.lines[2] == (
        "replica b:2:bb (pid 106 on b): heartbeat 5 s ago,"
        " slack not working (HTTP mode): auth.test failed: SlackApiError"
    )


def test_one_process_reads_as_before() -> None:
    report = assess_replicas([beat(10)], polled(3), CONFIG, NOW)
    assert report == assess(beat(10), polled(3), CONFIG, NOW)
    assert assess_replicas([], polled(3), CONFIG, NOW).lines == [
        "service: no heartbeat: `briefbot run` is not running here"
    ]
