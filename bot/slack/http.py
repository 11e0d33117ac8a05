"""HTTP mode: the Bolt app on `/slack/events`, behind the server in `bot.slack.httpserver`.

`serve_http` starts it in the background and returns a `ServerHandle`.

Not obvious:
- What reaches Bolt. A signed request is handed to Bolt only when it is a
  `/brief` slash command (a form of string fields), an interactivity form
  whose `payload` is a button press or a form submitted, an Events API
  callback for an event the manifest subscribes to (all three checked by
  `bot.slack.shapes`), or one of Slack's URL checks (`ssl_check`,
  `url_verification`) made of strings: anything else gets 404 (400 when it is
  not even a JSON object), each with one log line and before Bolt reads it.
  Bolt trusts the shapes Slack sends: a signed `[1]`, `payload=[1]` or a
  `block_actions` payload with no action crashed inside it (500 and a
  traceback).
- A `/brief` is answered 200 as soon as it is verified and its shape
  checked; Bolt gets it afterwards on a thread of its own
  (`bot.slack.ackfirst.CommandRelay`), so nothing Bolt or the work does
  delays the ack. Everything else is answered by Bolt on the request thread
  (a form's errors, a URL check's challenge are in the HTTP answer).
- Bolt's HTTP body parser (`slack_bolt.request.internals.parse_body`) treats
  any form body containing the substring "payload" as an interactivity
  payload and returns `{}` when there is no `payload` field, so
  `/brief payload rules` or a channel named `#payload-team` would be dropped
  as an unhandled request. `_SlackHttpRequest` parses form bodies by field
  name instead, and keeps doing so in the copy Bolt hands to lazy listeners.
- HTTP requests are verified (Slack's v0 signature, HMAC-SHA256 over
  `v0:{timestamp}:{body}` with the signing secret, timestamp within 5 minutes;
  https://api.slack.com/authentication/verifying-requests-from-slack) before
  the body is even parsed; Bolt's own `RequestVerification` checks again.
  The timestamp must be ASCII digits: `"¹²³".isdigit()` is True, and
  slack_sdk's `int()` raises on it (and on 5,000 digits). Headers named
  `x-slack-bolt-*` are Bolt's internal lazy-listener switches and are
  dropped from incoming requests.
- Lengths: a POST to `/slack/events` without a Content-Length gets 411, a
  body announced over `MAX_BODY_BYTES` 413, both before a byte of it is
  read. The server refuses a Content-Length that is not plain digits (400)
  itself, and de-chunks a chunked body up to the cap.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

from bot.slack.ackfirst import CommandRelay
from bot.slack.app import (
    STOP_GRACE,
    BriefbotApp,
    SlackStartupError,
    favour_acks,
    slash_command_problem,
)
from bot.slack.httpserver import HttpServer
from bot.slack.shapes import event_problem, interaction_problem

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "MAX_BODY_BYTES",
    "HealthCheck",
    "ServerHandle",
    "serve_http",
]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# What /healthz answers with: (healthy, text for the body).
HealthCheck = Callable[[], tuple[bool, str]]
# Slack's payloads are a few kilobytes (a modal submission a few hundred);
# anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
_BOLT_INTERNAL_HEADER = "x-slack-bolt-"


class ServerHandle:
    """The HTTP server: `.port` (the one bound; 0 asks for a free one), `.stop()`."""

    def __init__(self, server: HttpServer, app: BriefbotApp, relay: CommandRelay) -> None:
        self._server = server
        self._app = app
        self._relay = relay
        self.host = server.host
        self.port = server.port
        self._stopped = False

    def stop(self, timeout: float = STOP_GRACE) -> None:
        """Stop accepting requests, let replies in progress finish, close the socket."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        self._relay.stop(timeout)
        self._app.finish(timeout)


class _Refused(Exception):
    """A request answered with `status` before Bolt sees it; `reason` goes to the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _SlackHttpRequest(BoltRequest):
    """A BoltRequest whose form body is parsed by field name (see the module docstring)."""

    def __init__(
        self,
        *,
        body: str,
        query: Any = None,
        headers: Any = None,
        context: dict[str, Any] | None = None,
        mode: str = "http",
    ) -> None:
        super().__init__(body=body, query=query, headers=headers, context=context, mode=mode)
        # Only forms and objects of strings get here (`_check_body`): Bolt's parse is safe.
        if _is_json(self.raw_body, self.content_type or ""):
            return
        parsed: dict[str, Any] = _form_fields(self.raw_body)
        if "payload" in parsed and "command" not in parsed:
            # Interactivity: the one field `payload` holds the JSON (checked by _check_body).
            parsed = json.loads(parsed["payload"])
        if parsed != self.body:
            self.body = parsed
            self.context = build_context(BoltContext(dict(context or {})), parsed)

    def to_copyable(self) -> _SlackHttpRequest:
        return _SlackHttpRequest(
            body=self.raw_body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )


def _is_json(raw: str, content_type: str) -> bool:
    return content_type.startswith("application/json") or raw.startswith("{")


def _form_fields(raw: str) -> dict[str, str]:
    return dict(parse_qsl(raw, keep_blank_values=True))


def _check_body(raw: str, content_type: str) -> dict[str, str] | None:
    """Raise `_Refused` unless a signed body is one briefbot answers (module docstring).

    Returns the fields of a `/brief` slash command, None for anything else.
    """
    if _is_json(raw, content_type):
        data = _json_object(raw, "the body")
        if data.get("type") == "url_verification" and _all_strings(data):
            return None  # Slack checking an Events API URL (docs/deploy.md); Bolt answers
        problem = event_problem(data)
        if problem is not None:
            raise _Refused(404, problem)
        return None
    fields = _form_fields(raw)
    if "payload" in fields:
        problem = interaction_problem(_json_object(fields["payload"], "the payload"))
        if problem is not None:
            raise _Refused(404, problem)
        return None
    if "ssl_check" in fields:
        return None  # Slack checking the URL's certificate; Bolt answers 200
    problem = slash_command_problem(fields)
    if problem is not None:
        raise _Refused(404, problem)
    return fields


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise _Refused(400, f"{what} is not JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, f"{what} is not a JSON object")
    return data


def _all_strings(data: dict[str, Any]) -> bool:
    return all(isinstance(value, str) for value in data.values())


# Seconds since 1970, as Slack sends them; anything else is not worth an int().
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class _SlackWsgiApp(SlackRequestHandler):
    """Bolt's WSGI adapter plus a health check, length checks, verification and the gate."""

    app: BriefbotApp

    def __init__(self, app: BriefbotApp, health: HealthCheck | None = None) -> None:
        super().__init__(app, path=EVENTS_PATH)
        self._verifier = SignatureVerifier(signing_secret=app.briefbot_signing_secret)
        self._health = health
        self.relay = CommandRelay(app)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            if self._health is None:
                return _plain(start_response, "200 OK", "ok\n")
            healthy, text = self._health()
            status = "200 OK" if healthy else "503 Service Unavailable"
            return _plain(start_response, status, text)
        if path == EVENTS_PATH and method == "POST":
            refusal = _length_refusal(environ.get("CONTENT_LENGTH"))
            if refusal is not None:
                status, text = refusal
                log.info("refused a request from %s: %s", _client(environ), text.strip())
                return _plain(start_response, status, text)
        try:
            return super().__call__(environ, start_response)
        except Exception:
            log.exception("error answering %s %s", method, path)
            return _plain(start_response, "500 Internal Server Error", "internal error\n")

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        client = _client(request.environ)
        try:
            raw = request.get_body()
        except UnicodeDecodeError:
            log.info("refused a request from %s: the body is not UTF-8", client)
            return BoltResponse(status=400, body="the body is not UTF-8")
        headers = {
            name: value
            for name, value in request.get_headers().items()
            if not name.startswith(_BOLT_INTERNAL_HEADER)
        }
        timestamp = str(headers.get("x-slack-request-timestamp") or "")
        signature = str(headers.get("x-slack-signature") or "")
        if not _TIMESTAMP.fullmatch(timestamp) or not self._verifier.is_valid(
            raw, timestamp, signature
        ):
            log.info("refused a request from %s: bad or missing Slack signature", client)
            # Same answer as Bolt's RequestVerification, before anything is parsed.
            return BoltResponse(status=401, body={"error": "invalid request"})
        try:
            command = _check_body(raw, str(headers.get("content-type") or ""))
        except _Refused as refused:
            log.warning(
                "refused a signed request from %s (HTTP %d): %s", client, refused.status, refused
            )
            return BoltResponse(status=refused.status, body=refused.reason)
        bolt_request = functools.partial(
            _SlackHttpRequest, body=raw, query=request.query_string, headers=headers
        )
        if command is not None:
            # Acknowledged now; Bolt gets it on the relay's thread (bot/slack/ackfirst.py).
            self.relay.put(bolt_request, command.get("response_url", ""))
            return BoltResponse(status=200, body="")
        return self.app.dispatch(bolt_request())


def _length_refusal(length: str | None) -> tuple[str, str] | None:
    """The status and text refusing a POST with this Content-Length, None to read it."""
    if not length:
        return "411 Length Required", "a Content-Length is required\n"
    # The server already refuses anything but digits; this holds under any server.
    if not (length.isascii() and length.isdigit()):
        return "400 Bad Request", "bad Content-Length\n"
    if len(length) > len(str(MAX_BODY_BYTES)) or int(length) > MAX_BODY_BYTES:
        return "413 Content Too Large", "request too large\n"
    return None


def _client(environ: WSGIEnvironment) -> str:
    return str(environ.get("REMOTE_ADDR") or "an unknown address")


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def serve_http(
    app: BriefbotApp,
    *,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104
    health: HealthCheck | None = None,
) -> ServerHandle:
    """Serve `POST /slack/events` (signed requests only) and `GET /healthz` in the background.

    `health` answers /healthz: (healthy, text) gives 200 or 503 with that text;
    without it /healthz says only that the server is up.
    """
    if not app.briefbot_signing_secret:
        # An empty key would make every forged signature "valid".
        raise SlackStartupError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    favour_acks()
    wsgi = _SlackWsgiApp(app, health)
    try:
        server = HttpServer(
            wsgi, host=host, port=port, max_body_bytes=MAX_BODY_BYTES, gate=app.acks
        )
    except OSError as exc:
        wsgi.relay.stop(0)
        raise SlackStartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    handle = ServerHandle(server, app, wsgi.relay)
    log.info("Slack HTTP mode: listening on %s:%d%s", handle.host, handle.port, EVENTS_PATH)
    return handle
