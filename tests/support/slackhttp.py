"""Talking to briefbot's HTTP mode as Slack does: signed slash commands, raw requests.

`command_form` builds a slash command's fields, `sign` Slack's v0 signature
headers (slack_sdk's signing, checked in tests/support/test_slackhttp.py),
`post` / `post_command` send them with http.client; `raw_exchange` sends
bytes http.client would refuse to (a negative Content-Length, a request that
never ends) and reads the answer. `Recorder` wraps the real command handler
and notes what reached it.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import itertools
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.models import CommandReply, CommandRequest
from bot.slack.app import CommandHandler
from bot.slack.http import ServerHandle
from tests.support.secretscan import SIGNING_SECRET

__all__ = [
    "HttpAnswer",
    "Recorder",
    "answer_with",
    "command_form",
    "post",
    "post_command",
    "raw_exchange",
    "sign",
    "status_of",
]


class Recorder:
    """Wraps the real command handler, noting every request that reached it."""

    def __init__(self, inner: CommandHandler) -> None:
        self.inner = inner
        self.requests: list[CommandRequest] = []
        self._lock = threading.Lock()

    def __call__(self, request: CommandRequest) -> CommandReply:
        with self._lock:
            self.requests.append(request)
        return self.inner(request)


def answer_with(runtime: Runtime) -> CommandHandler:
    """What `briefbot run` hands the Slack app: the real handler bound to the runtime."""
    return functools.partial(handle_command, runtime)


_triggers = itertools.count(1)


def command_form(text: str, response_url: str, **fields: str) -> dict[str, str]:
    """A slash command's form fields, in the order Slack sends them."""
    form = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",  # Slack's (deprecated) verification token
        "team_id": "T0FAKETEAM",
        "team_domain": "fake-workspace",
        "channel_id": "C0NEWS",
        "channel_name": "news",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/brief",
        "text": text,
        "api_app_id": "A0FAKEAPP",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(_triggers)}.4242.abcdef0123456789",
    }
    form.update(fields)
    return form


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 request signature headers for `body`, signed by slack_sdk as Slack signs."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only for an empty secret
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    seconds: float


def post(
    server: ServerHandle,
    body: bytes,
    headers: dict[str, str],
    *,
    path: str = "/slack/events",
    method: str = "POST",
) -> HttpAnswer:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        all_headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return HttpAnswer(response.status, data, time.monotonic() - started)


def post_command(server: ServerHandle, form: dict[str, str], **extra_headers: str) -> HttpAnswer:
    body = urlencode(form).encode()
    return post(server, body, {**sign(body), **extra_headers})


def raw_exchange(
    port: int, head: bytes, body: Iterable[bytes] = (), *, finish: bool = False
) -> bytes:
    """Send `head`, then each piece of `body`; read the answer until the server closes.

    For requests http.client will not send (a negative Content-Length, a body
    that never ends). A server that stops reading and hangs up mid-body is
    what these tests want, so a broken pipe while sending ends the sending
    quietly. With `finish` the sending side is closed after the body (a server
    reading "to the end" then gets its end); without it the server must
    answer from what it has. A server that waits for more times out (10 s).
    """
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        try:
            conn.sendall(head)
            for piece in body:
                conn.sendall(piece)
            if finish:
                conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionResetError):
            while piece := conn.recv(65536):
                answer += piece
    return answer


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (asserts there is one)."""
    assert answer.startswith(b"HTTP/"), f"no HTTP answer: {answer[:80]!r}"
    return int(answer.split(b" ", 2)[1])
