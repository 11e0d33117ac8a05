"""HTTP mode: the Bolt app behind a threaded WSGI server on `/slack/events`.

`serve_http` starts it in the background and returns a `ServerHandle`.

Not obvious:
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
  Headers named `x-slack-bolt-*` are Bolt's internal lazy-listener switches
  and are dropped from incoming requests.
- A body announced over `MAX_BODY_BYTES` is refused (413) from its
  Content-Length, before a byte of it is read.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

from bot.slack.app import STOP_GRACE, BriefbotApp, SlackStartupError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = ["EVENTS_PATH", "HEALTH_PATH", "MAX_BODY_BYTES", "ServerHandle", "serve_http"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack's payloads are a few kilobytes (a modal submission a few hundred);
# anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
_BOLT_INTERNAL_HEADER = "x-slack-bolt-"


class ServerHandle:
    """The HTTP server: `.port` (the one bound; 0 asks for a free one), `.stop()`."""

    def __init__(self, server: _ThreadingWsgiServer, app: BriefbotApp) -> None:
        self._server = server
        self._app = app
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"briefbot-http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    def stop(self, timeout: float = STOP_GRACE) -> None:
        """Stop accepting requests, let replies in progress finish, close the socket."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()
        self._app.finish(timeout)


class _ThreadingWsgiServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops bursts of commands
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (socket.getfqdn), which
        # can stall for seconds on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])
        self.setup_environ()


class _QuietHandler(WSGIRequestHandler):
    timeout = 30  # a client that stops sending mid-request frees its thread

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s: " + format, self.address_string(), *args)


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
        parsed = _parse_body(self.raw_body, self.content_type)
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


def _parse_body(raw: str, content_type: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type == "application/json" or raw.startswith("{"):
        data = json.loads(raw)
    else:
        fields = dict(parse_qsl(raw, keep_blank_values=True))
        data = json.loads(fields["payload"]) if "payload" in fields else fields
    if not isinstance(data, dict):
        raise ValueError("the request body is not an object")
    return data


class _SlackWsgiApp(SlackRequestHandler):
    """Bolt's WSGI adapter plus a health check, a size cap and verification before parsing."""

    app: BriefbotApp

    def __init__(self, app: BriefbotApp) -> None:
        super().__init__(app, path=EVENTS_PATH)
        self._verifier = SignatureVerifier(signing_secret=app.briefbot_signing_secret)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return _plain(start_response, "200 OK", "ok\n")
        if path == EVENTS_PATH and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return _plain(start_response, "400 Bad Request", "bad Content-Length\n")
            if length > MAX_BODY_BYTES:
                return _plain(start_response, "413 Content Too Large", "request too large\n")
        try:
            return super().__call__(environ, start_response)
        except Exception:
            log.exception("error answering %s %s", method, path)
            return _plain(start_response, "500 Internal Server Error", "internal error\n")

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        try:
            raw = request.get_body()
        except UnicodeDecodeError:
            return BoltResponse(status=400, body="the body is not UTF-8")
        headers = {
            name: value
            for name, value in request.get_headers().items()
            if not name.startswith(_BOLT_INTERNAL_HEADER)
        }
        timestamp = str(headers.get("x-slack-request-timestamp") or "")
        signature = str(headers.get("x-slack-signature") or "")
        # slack_sdk's verifier raises on a timestamp that is not a number.
        if not timestamp.isdigit() or not self._verifier.is_valid(raw, timestamp, signature):
            # Same answer as Bolt's RequestVerification, before anything is parsed.
            return BoltResponse(status=401, body={"error": "invalid request"})
        try:
            bolt_request = _SlackHttpRequest(body=raw, query=request.query_string, headers=headers)
        except ValueError:
            return BoltResponse(status=400, body="the body is not a Slack payload")
        return self.app.dispatch(bolt_request)


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def serve_http(app: BriefbotApp, *, port: int, host: str = "0.0.0.0") -> ServerHandle:  # noqa: S104
    """Serve `POST /slack/events` (signed requests only) and `GET /healthz` in the background."""
    if not app.briefbot_signing_secret:
        # An empty key would make every forged signature "valid".
        raise SlackStartupError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    try:
        server = _ThreadingWsgiServer((host, port), _QuietHandler)
    except OSError as exc:
        raise SlackStartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.set_app(_SlackWsgiApp(app))
    handle = ServerHandle(server, app)
    log.info("Slack HTTP mode: listening on %s:%d%s", handle.host, handle.port, EVENTS_PATH)
    return handle
