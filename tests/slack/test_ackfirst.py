"""`/brief` over HTTP is acknowledged before Bolt sees it (bot/slack/ackfirst.py).

Signed commands against the real HTTP service (waitress, Bolt, the real
command handler on a Runtime in tmp_path); replies arrive at a loopback
response_url. No timings: those are the ack benchmark's (bench/ack_bench.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.slack.app import APOLOGY, build_app
from bot.slack.http import ServerHandle, serve_http
from tests.support.responseurl import ResponseUrlServer
from tests.support.slackhttp import HttpAnswer, Recorder, command_form, post_command

BURST = 40
# One message each: a question answered by search, or help.
TEXTS = ("entity list", "chips", "help", "ymtc", "taipei working group")


@pytest.fixture
def responses() -> Iterator[ResponseUrlServer]:
    server = ResponseUrlServer()
    yield server
    server.stop()


def _burst(server: ServerHandle, responses: ResponseUrlServer, count: int) -> list[HttpAnswer]:
    forms = [
        command_form(TEXTS[n % len(TEXTS)], responses.url(f"burst-{n}"), user_id=f"U0USER{n:03d}")
        for n in range(count)
    ]
    start = threading.Barrier(count)

    def send(form: dict[str, str]) -> HttpAnswer:
        start.wait()
        return post_command(server, form)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(send, forms))


def test_a_burst_of_commands_is_acked_and_each_answered_exactly_once(
    http_app: ServerHandle, responses: ResponseUrlServer, recorder: Recorder
) -> None:
    answers = _burst(http_app, responses, BURST)

    assert [a.status for a in answers] == [200] * BURST
    assert all(a.body == b"" for a in answers)  # an ack carries nothing; the reply comes later
    for n in range(BURST):
        [reply] = responses.wait(f"burst-{n}", timeout=60)
        assert APOLOGY not in reply.everything
        assert reply.payload["response_type"] == "ephemeral"
    http_app.stop()  # every reply already in: nothing more may come
    assert len(responses.replies()) == BURST
    assert sorted(r.user_id for r in recorder.requests) == [f"U0USER{n:03d}" for n in range(BURST)]


def test_the_ack_does_not_wait_for_bolt(
    runtime: Runtime, secrets: SlackSecrets, recorder: Recorder, responses: ResponseUrlServer
) -> None:
    # Several replicas ask the shared table whether a delivery is new (a database
    # query) in Bolt's middleware. However slow that is, the ack has been sent.
    asked = threading.Event()
    release = threading.Event()

    def slow_first_sight(key: str) -> bool:
        asked.set()
        release.wait(30)
        return True

    server = serve_http(
        build_app(secrets, recorder, first_sight=slow_first_sight), port=0, host="127.0.0.1"
    )
    try:
        answer = post_command(server, command_form("entity list", responses.url("held")))
        assert answer.status == 200
        assert asked.wait(10)
        assert responses.replies("held") == []  # still held in Bolt

        release.set()
        [reply] = responses.wait("held", timeout=30)
        assert "YMTC" in reply.everything
    finally:
        release.set()
        server.stop()


def test_a_repeated_delivery_is_acked_and_answered_once(
    http_app: ServerHandle, responses: ResponseUrlServer, recorder: Recorder
) -> None:
    form = command_form("help", responses.url("retried"))

    first = post_command(http_app, form)
    again = post_command(http_app, form, **{"X-Slack-Retry-Num": "1"})

    assert (first.status, again.status) == (200, 200)
    responses.wait("retried", timeout=30)
    http_app.stop()
    assert len(responses.replies("retried")) == 1
    assert len(recorder.requests) == 1
