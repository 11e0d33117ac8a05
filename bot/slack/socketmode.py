"""Socket Mode: the Bolt app over Slack's WebSocket (`SLACK_APP_TOKEN`).

`serve_socket_mode` connects (apps.connections.open at `SLACK_API_URL`) and
returns a `SocketModeHandle`; slack_sdk reconnects by itself.

Not obvious:
- Each message is checked as it arrives, before slack_sdk queues it
  (`_CheckedClient.enqueue_message`, on the receiving thread, in order).
  Only `slash_commands` envelopes carrying a `/brief` command of string
  fields, `interactive` ones carrying a button press or a form submitted, and
  `events_api` ones carrying an event the manifest subscribes to reach Bolt
  (`bot.slack.shapes` checks the last two, as HTTP mode does). Anything else
  with an envelope id is acknowledged (or Slack would send it again) and
  dropped with one log line: events and interactions briefbot does not
  handle, payloads that are not objects, fields of the wrong type. Messages that are not JSON
  objects, and envelopes without an id, are dropped with one log line.
  slack_sdk would have logged a traceback for most of these (invalid JSON, a
  payload that is a list) and Bolt crashed on some (an event that is a list,
  a `block_actions` with no action), leaving them unacknowledged.
- A `/brief` envelope is acknowledged right there, on the receiving thread,
  before it waits for a listener thread and Bolt (bot/slack/ackfirst.py says
  why); `_CheckedHandler.handle` then hands it to Bolt without acknowledging
  it again.
- `hello`, `disconnect` and other messages without an envelope are slack_sdk's.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.config.model import SlackSecrets
from bot.slack.ackfirst import relay_answer
from bot.slack.app import (
    STOP_GRACE,
    BriefbotApp,
    SlackStartupError,
    favour_acks,
    slash_command_problem,
    startup_error,
)
from bot.slack.shapes import event_problem, interaction_problem

__all__ = ["SocketModeHandle", "serve_socket_mode"]

log = logging.getLogger(__name__)


class SocketModeHandle:
    """The Socket Mode connection (reconnects by itself); `.stop()` closes it."""

    def __init__(self, handler: SocketModeHandler, app: BriefbotApp) -> None:
        self.handler = handler
        self._app = app
        self._stopped = False

    def is_connected(self) -> bool:
        return bool(self.handler.client.is_connected())

    def stop(self, timeout: float = STOP_GRACE) -> None:
        if self._stopped:
            return
        self._stopped = True
        _close_socket_mode(self.handler)
        self._app.finish(timeout)


# Envelope types Slack sends with an envelope_id to acknowledge.
_ENVELOPE_TYPES = frozenset({"slash_commands", "events_api", "interactive"})


class _CheckedClient(SocketModeClient):
    """slack_sdk's Socket Mode client, dropping what Bolt must not see (module docstring)."""

    def enqueue_message(self, message: str) -> None:
        verdict = envelope_problem(message)
        if verdict is None:
            command_id = _command_envelope_id(message)
            if command_id is not None:
                # A `/brief`: acknowledged now, on the receiving thread, before it
                # waits for a listener thread and Bolt (`_CheckedHandler.handle`).
                with suppress(SlackClientError, OSError):
                    self.send_socket_mode_response({"envelope_id": command_id})
            super().enqueue_message(message)
            return
        problem, envelope_id = verdict
        log.warning("ignored a Socket Mode message: %s", problem)
        if envelope_id is not None:
            # Acknowledged, so Slack does not send it again; if this fails, it will.
            with suppress(SlackClientError, OSError):
                self.send_socket_mode_response({"envelope_id": envelope_id})


def envelope_problem(message: str) -> tuple[str, str | None] | None:
    """Why a Socket Mode message is not for Bolt, and the envelope id to acknowledge.

    None for a well-formed `/brief` envelope and for messages that are not
    envelopes (`hello`, `disconnect`).
    """
    try:
        data = json.loads(message)
    except ValueError:
        return "a message that is not JSON", None
    if not isinstance(data, dict):
        return "a message that is not a JSON object", None
    kind = data.get("type")
    if "envelope_id" not in data and kind not in _ENVELOPE_TYPES:
        return None
    envelope_id = data.get("envelope_id")
    if not isinstance(envelope_id, str) or not envelope_id:
        return f"an envelope of type {_describe(kind)} without an envelope_id", None
    check = _CHECKS.get(kind) if isinstance(kind, str) else None
    if check is None:
        return f"an envelope of type {_describe(kind)}: briefbot does not answer it", envelope_id
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return f"an envelope of type {kind!r} whose payload is not an object", envelope_id
    problem = check(payload)
    return (problem, envelope_id) if problem is not None else None


_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "slash_commands": slash_command_problem,
    "interactive": interaction_problem,
    "events_api": event_problem,
}


def _command_envelope_id(message: str) -> str | None:
    """The envelope id of a `slash_commands` envelope (already checked), else None."""
    data = json.loads(message)
    if data.get("type") == "slash_commands":
        return str(data["envelope_id"])
    return None


def _describe(value: object) -> str:
    return repr(value[:40]) if isinstance(value, str) else type(value).__name__


class _CheckedHandler(SocketModeHandler):
    """Bolt's Socket Mode handler over `_CheckedClient`."""

    def __init__(self, app: BriefbotApp, app_token: str) -> None:
        # SocketModeHandler.__init__ builds (and starts the threads of) its own
        # client; this is the same construction with the checked client.
        self.app = app
        self.app_token = app_token
        self.client = _CheckedClient(
            app_token=app_token,
            logger=app.logger,
            web_client=app.client,
            proxy=app.client.proxy,
            ping_interval=10,  # SocketModeHandler's value
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if req.type != "slash_commands":
            super().handle(client, req)
            return
        # Acknowledged on arrival (`_CheckedClient.enqueue_message`): what Bolt would
        # have put in the ack goes to the response_url (bot/slack/ackfirst.py).
        response = run_bolt_app(self.app, req)
        payload = req.payload if isinstance(req.payload, dict) else {}
        relay_answer(response, str(payload.get("response_url") or ""))


def _close_socket_mode(handler: SocketModeHandler) -> None:
    """Close the Socket Mode client without waiting out its internal timeouts.

    slack_sdk's close() waits for the receiving thread, which sits in a socket
    read with a 3 s timeout, and for the message loop, which waits up to 1 s
    on its queue. Shutting the socket down and waking the queue first makes a
    stop (SIGTERM) take milliseconds.
    """
    client = handler.client
    client.closed = True
    client.auto_reconnect_enabled = False
    session = client.current_session
    sock = getattr(session, "sock", None)
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    client.message_queue.put(None)
    handler.close()  # type: ignore[no-untyped-call]


def serve_socket_mode(app: BriefbotApp, app_token: str) -> SocketModeHandle:
    """Connect to Slack over Socket Mode (apps.connections.open at `SLACK_API_URL`).

    The Socket Mode client uses the app's WebClient, so its base URL and retry
    policy are the bot's. Raises SlackStartupError when Slack refuses the
    app-level token.
    """
    token = (app_token or "").strip()
    if not token:
        raise SlackStartupError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
    favour_acks()
    handler = _CheckedHandler(app, token)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except (SlackApiError, SlackClientError, OSError) as exc:
        _close_socket_mode(handler)
        secrets = SlackSecrets(app_token=token, api_url=app.client.base_url)
        raise startup_error(exc, secrets, "SLACK_APP_TOKEN", "app-level token") from None
    log.info("Slack Socket Mode: connected")
    return SocketModeHandle(handler, app)
