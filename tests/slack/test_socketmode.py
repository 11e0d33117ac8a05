"""Socket Mode under attack: envelopes Slack never sends, over a real WebSocket.

A local WebSocket server (tests/support/wsserver.py) plays Slack's side and
sends each malformed message as it is, then a well-formed `/brief`: the bad
one must cost one log line (no traceback), be acknowledged when it names an
envelope (so Slack would not send it again), never reach the handler, and
leave the connection answering the next command.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.slack.app import build_app
from bot.slack.socketmode import SocketModeHandle, serve_socket_mode
from tests.support.fakeslack import FakeSlack
from tests.support.responseurl import ResponseUrlServer
from tests.support.slackhttp import Recorder
from tests.support.wsserver import SocketModeServer, slash_command_envelope


def _command(**changes: Any) -> dict[str, Any]:
    """A `/brief help` slash command payload with `changes` (None removes a field)."""
    payload = slash_command_envelope(
        "unused", text="help", response_url="http://127.0.0.1:9/unused", trigger_id="t-bad"
    )["payload"]
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def _envelope(envelope_id: Any, kind: Any, payload: Any) -> str:
    return json.dumps({"envelope_id": envelope_id, "type": kind, "payload": payload})


@pytest.fixture
def socket_mode(
    runtime: Runtime,
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    recorder: Recorder,
) -> Iterator[SocketModeHandle]:
    fake_slack.socket_mode_url = socket_server.url
    handle = serve_socket_mode(build_app(secrets, recorder), fake_slack.app_token)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.mark.parametrize(
    ("message", "acked"),
    [
        pytest.param("{oops", None, id="not-json"),
        pytest.param("[1, 2]", None, id="json-array"),
        pytest.param('"hello"', None, id="json-string"),
        pytest.param(_envelope("e-1", "slash_commands", [1]), "e-1", id="payload-array"),
        pytest.param(_envelope("e-2", "slash_commands", "help"), "e-2", id="payload-string"),
        pytest.param(
            json.dumps({"envelope_id": "e-3", "type": "slash_commands"}), "e-3", id="no-payload"
        ),
        pytest.param(_envelope("e-4", "slash_commands", _command(text=5)), "e-4", id="text-int"),
        pytest.param(
            _envelope("e-5", "slash_commands", _command(command="/other")),
            "e-5",
            id="other-command",
        ),
        pytest.param(
            _envelope("e-6", "slash_commands", _command(authorizations=[1])),
            "e-6",
            id="authorizations-of-ints",
        ),
        pytest.param(
            _envelope("e-7", "interactive", {"type": "block_actions", "actions": []}),
            "e-7",
            id="block-actions-no-action",
        ),
        pytest.param(
            _envelope("e-8", "events_api", {"type": "event_callback", "event": [1]}),
            "e-8",
            id="event-array",
        ),
        pytest.param(_envelope("e-9", None, _command()), "e-9", id="no-type"),
        pytest.param(_envelope(7, "slash_commands", _command()), None, id="envelope-id-int"),
        pytest.param(
            json.dumps({"type": "slash_commands", "payload": _command()}), None, id="no-envelope-id"
        ),
    ],
)
def test_a_malformed_envelope_costs_one_log_line_and_the_next_command_is_answered(
    socket_mode: SocketModeHandle,
    socket_server: SocketModeServer,
    responses: ResponseUrlServer,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    message: str,
    acked: str | None,
) -> None:
    connection = socket_server.wait_for_connections(1)
    caplog.set_level(logging.INFO)
    caplog.clear()
    socket_server.send_raw(connection, message)
    good = slash_command_envelope(
        "e-good", text="help", response_url=responses.url("after"), trigger_id="t-good"
    )
    socket_server.send(connection, good)

    assert socket_server.wait_for(connection, lambda m: m.get("envelope_id") == "e-good")
    [reply] = responses.wait("after")
    assert "subscribe" in reply.everything.lower()
    assert [r.text for r in recorder.requests] == ["help"]
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and "Traceback" not in caplog.text
    if acked is not None:  # acknowledged, so Slack would not send it again
        ack = socket_server.wait_for(connection, lambda m: m.get("envelope_id") == acked)
        assert ack == {"envelope_id": acked}


def test_a_command_is_acked_before_bolt_sees_it_and_answered_once(
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    responses: ResponseUrlServer,
    recorder: Recorder,
) -> None:
    # Bolt's middleware asks the replicas' shared table (a database query) whether
    # a delivery is new. However slow that is, the envelope is acknowledged.
    asked, release = threading.Event(), threading.Event()

    def slow_first_sight(key: str) -> bool:
        asked.set()
        release.wait(30)
        return True

    fake_slack.socket_mode_url = socket_server.url
    handle = serve_socket_mode(
        build_app(secrets, recorder, first_sight=slow_first_sight), fake_slack.app_token
    )
    try:
        connection = socket_server.wait_for_connections(1)
        envelope = slash_command_envelope(
            "e-held", text="help", response_url=responses.url("held"), trigger_id="t-held"
        )
        socket_server.send(connection, envelope)
        assert asked.wait(10)
        ack = socket_server.wait_for(connection, lambda m: m.get("envelope_id") == "e-held")
        assert ack == {"envelope_id": "e-held"}
        assert responses.replies("held") == []  # still held in Bolt

        release.set()
        [reply] = responses.wait("held")
        assert "subscribe" in reply.everything.lower()
    finally:
        release.set()
        handle.stop()
    acks = [m for m in connection.received if m.get("envelope_id") == "e-held"]
    assert len(acks) == 1 and len(responses.replies("held")) == 1
