"""Socket Mode: the Bolt app over Slack's WebSocket (`SLACK_APP_TOKEN`).

`serve_socket_mode` connects (apps.connections.open at `SLACK_API_URL`) and
returns a `SocketModeHandle`; slack_sdk reconnects by itself.
"""

from __future__ import annotations

import logging
import socket
from contextlib import suppress

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config.model import SlackSecrets
from bot.slack.app import STOP_GRACE, BriefbotApp, SlackStartupError, startup_error

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
    handler = SocketModeHandler(app, token, web_client=app.client)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except (SlackApiError, SlackClientError, OSError) as exc:
        _close_socket_mode(handler)
        secrets = SlackSecrets(app_token=token, api_url=app.client.base_url)
        raise startup_error(exc, secrets, "SLACK_APP_TOKEN", "app-level token") from None
    log.info("Slack Socket Mode: connected")
    return SocketModeHandle(handler, app)
