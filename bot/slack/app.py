"""The Slack app: `/brief` through Bolt, served over HTTP or Socket Mode.

`build_app` makes the Bolt `App`; `serve_http` / `serve_socket_mode` put it on
a transport; `start_slack` picks the transport the way `briefbot run` does
(Socket Mode when `SLACK_APP_TOKEN` is set, else HTTP on `/slack/events`).

Not obvious:
- The 3-second rule. Slack shows the user an error when a slash command is
  not acknowledged within 3 s. The listener's ack function only calls `ack()`;
  the work (`bot.app.commands.handle_command`) runs in a Bolt lazy listener on the
  app's thread pool and answers through `respond()` (the `response_url`: valid
  30 minutes, about 5 uses, so a reply is capped at 5 messages). The app runs
  with `process_before_response=True` so the ack runs on the request's own
  thread: a pool busy with slow work (searches waiting while a poll holds the
  runtime lock) can never delay an ack.
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
- Retries: Slack redelivers events it thinks failed (`X-Slack-Retry-Num`;
  Socket Mode carries the same as `retry_attempt`). Each `event_id` /
  `trigger_id` is handled once; a repeat within `SEEN_TTL` is acked and dropped.
- Secrets: Bolt's start-up `auth.test` and Socket Mode's
  `apps.connections.open` pass the token as a parameter, but slack_sdk moves it
  into the Authorization header, which its DEBUG log redacts (the tests log at
  DEBUG and look for every secret). Start-up errors name the setting, never
  its value.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.context.respond import Respond
from slack_bolt.error import BoltError
from slack_bolt.middleware import Middleware
from slack_bolt.request.internals import build_context
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from bot.app.commands.dispatch import handle_command
from bot.app.commands.session import CommandReply, CommandRequest
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.config.redact import redact_url
from bot.deliver.ports import Poster
from bot.models import SlackMessage
from bot.slack.client import SlackClientConfigError, make_web_client
from bot.slack.deliver import Deliverer

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = [
    "COMMAND",
    "EVENTS_PATH",
    "HEALTH_PATH",
    "MAX_BODY_BYTES",
    "MAX_RESPONSES",
    "SEEN_TTL",
    "BriefbotApp",
    "CommandHandler",
    "ServerHandle",
    "SlackHandle",
    "SlackStartupError",
    "SocketModeHandle",
    "build_app",
    "serve_http",
    "serve_socket_mode",
    "start_slack",
]

log = logging.getLogger(__name__)

COMMAND = "/brief"
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack's payloads are a few kilobytes (a modal submission a few hundred);
# anything near this is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
# A response_url accepts about 5 messages in its 30 minutes.
MAX_RESPONSES = 5
# Slack retries a failed event after ~0 s, 1 min and 5 min; keep ids well past that.
SEEN_TTL = 30 * 60.0
SEEN_MAX = 50_000
# How long `stop()` lets replies already being worked on finish.
STOP_GRACE = 10.0
APOLOGY = (
    "Sorry, briefbot could not answer that just now: something went wrong on its side "
    "(it is in the bot's log). Please try again in a minute."
)
# Slack's answers to auth.test / apps.connections.open that mean "wrong token".
_TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "not_allowed_token_type",
    }
)
_BOLT_INTERNAL_HEADER = "x-slack-bolt-"


class SlackStartupError(RuntimeError):
    """The Slack side cannot start (refused token, missing setting, port taken)."""


class SlackHandle(Protocol):
    """A running transport: `stop()` ends it and lets in-flight replies finish."""

    def stop(self, timeout: float = STOP_GRACE) -> None: ...


# --------------------------------------------------------------------------- the app


class SeenRequests:
    """Ids of deliveries already handled, forgotten after `ttl` seconds (thread-safe)."""

    def __init__(
        self,
        ttl: float = SEEN_TTL,
        max_size: int = SEEN_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_sight(self, key: str) -> bool:
        """Record `key`; True unless it was already seen within the TTL."""
        now = self._clock()
        with self._lock:
            # Oldest first: drop what expired, then make room for one more.
            while self._seen:
                oldest, when = next(iter(self._seen.items()))
                if now - when < self.ttl:
                    break
                del self._seen[oldest]
            if key in self._seen:
                return False
            while len(self._seen) >= self.max_size:
                self._seen.popitem(last=False)
            self._seen[key] = now
            return True


class _WorkTracker:
    """Counts replies being worked on, so a stop can wait for them."""

    def __init__(self) -> None:
        self._busy = 0
        self._idle = threading.Condition()

    @contextmanager
    def track(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


class BriefbotApp(App):
    """The Bolt `App` plus what the transports need: the signing secret, the work in flight."""

    def __init__(self, *, signing_secret: str, **kwargs: Any) -> None:
        super().__init__(signing_secret=signing_secret, **kwargs)
        self.briefbot_signing_secret = signing_secret
        self.work = _WorkTracker()
        self.seen = SeenRequests()

    def finish(self, timeout: float = STOP_GRACE) -> None:
        """Let replies being worked on finish (up to `timeout` s), then stop the pool."""
        if not self.work.wait_idle(timeout):
            log.warning("stopping with /brief replies still being worked on")
        self.listener_runner.listener_executor.shutdown(wait=False, cancel_futures=True)


class _DropRepeats(Middleware):
    """Acks and drops a delivery whose event_id / trigger_id was already handled."""

    def __init__(self, seen: SeenRequests) -> None:
        self.seen = seen

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        key = _delivery_key(req.body)
        if key is None or self.seen.first_sight(key):
            return next()
        retry = req.headers.get("x-slack-retry-num", ["-"])[0]
        reason = req.headers.get("x-slack-retry-reason", ["-"])[0]
        log.info("dropping a repeated Slack delivery %s (retry %s, reason %s)", key, retry, reason)
        return BoltResponse(status=200, body="")


def _delivery_key(body: Mapping[str, Any]) -> str | None:
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return "event:" + event_id
    trigger_id = body.get("trigger_id")
    if isinstance(trigger_id, str) and trigger_id:
        return "trigger:" + trigger_id
    return None


class CommandHandler(Protocol):
    """What answers a `/brief` line: `bot.app.commands.handle_command`'s signature."""

    def __call__(
        self, runtime: Runtime, request: CommandRequest, *, poster: Poster | None = None
    ) -> CommandReply: ...


def build_app(
    runtime: Runtime,
    secrets: SlackSecrets,
    *,
    poster: Deliverer | None = None,
    token_verification: bool = True,
    command_handler: CommandHandler = handle_command,
) -> BriefbotApp:
    """The Bolt app answering `/brief`, with a client aimed at `SLACK_API_URL`.

    With `token_verification` (keep it in production) the bot token is checked
    with auth.test now, so a bad token fails at start-up: SlackStartupError,
    naming the setting, never the token. `command_handler` answers each line
    (another one only to observe or wrap it, as tests do).
    """
    try:
        client = make_web_client(secrets)
    except SlackClientConfigError as exc:
        raise SlackStartupError(str(exc)) from None
    try:
        app = BriefbotApp(
            name="briefbot",
            client=client,
            signing_secret=secrets.signing_secret or "",
            token_verification_enabled=token_verification,
            process_before_response=True,
            # Two workers: command work is CPU-bound, and more threads under one
            # GIL only delay the acks (p99 431 -> ~270 ms at 100k items: BENCHMARKS.md).
            listener_executor=ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="briefbot-slack"
            ),
        )
    except BoltError as exc:
        # Bolt turns auth.test's SlackApiError into a BoltError raised inside the handler.
        if isinstance(exc.__context__, SlackApiError):
            error = exc.__context__
            raise _startup_error(error, secrets, "SLACK_BOT_TOKEN", "bot token") from None
        raise SlackStartupError(
            f"the Slack app could not start: {_scrub(str(exc), secrets)}"
        ) from None
    except (SlackClientError, OSError) as exc:
        raise _startup_error(exc, secrets, "SLACK_BOT_TOKEN", "bot token") from None
    app.use(_DropRepeats(app.seen))

    def acknowledge(ack: Callable[..., None]) -> None:
        ack()  # nothing before this: Slack gives the whole round trip 3 seconds

    def answer(command: dict[str, Any], respond: Respond) -> None:
        with app.work.track():
            _answer_command(command_handler, runtime, poster, command, respond)

    app.command(COMMAND)(ack=acknowledge, lazy=[answer])
    return app


def _answer_command(
    handler: CommandHandler,
    runtime: Runtime,
    poster: Deliverer | None,
    command: Mapping[str, Any],
    respond: Respond,
) -> None:
    request = CommandRequest(
        user_id=str(command.get("user_id") or ""),
        channel_id=str(command.get("channel_id") or ""),
        text=str(command.get("text") or ""),
        user_name=str(command.get("user_name") or ""),
    )
    try:
        reply = handler(runtime, request, poster=poster)
    except Exception:
        # The user gets a sentence; the trace goes to the operator's log.
        log.exception("/brief from %s in %s failed", request.user_id, request.channel_id)
        reply = CommandReply(messages=[SlackMessage(text=APOLOGY)])
    _send_reply(respond, reply)


def _send_reply(respond: Respond, reply: CommandReply) -> None:
    messages = list(reply.messages)
    if len(messages) > MAX_RESPONSES:
        extra = len(messages) - MAX_RESPONSES + 1
        note = f"…and {extra} more messages not shown: Slack accepts {MAX_RESPONSES} per command."
        log.warning("a /brief reply of %d messages was cut to %d", len(messages), MAX_RESPONSES)
        messages = [*messages[: MAX_RESPONSES - 1], SlackMessage(text=note)]
    response_type = "in_channel" if reply.in_channel else "ephemeral"
    for message in messages:
        try:
            # Never link_names or parse: feed text must not become mentions.
            answer = respond(
                text=message.text,
                blocks=[dict(block) for block in message.blocks] or None,
                response_type=response_type,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:  # the response_url is unreachable: nothing else to try
            log.warning("could not send a /brief reply: %s", exc)
            return
        if answer.status_code != 200:
            log.warning(
                "Slack refused a /brief reply (HTTP %s): %s", answer.status_code, answer.body[:200]
            )
            return


def _startup_error(
    error: BaseException | None, secrets: SlackSecrets, setting: str, what: str
) -> SlackStartupError:
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else None
        if code in _TOKEN_ERRORS:
            return SlackStartupError(f"Slack refused the {what} ({code}): check {setting}")
        status = error.response.status_code if error.response is not None else "?"
        return SlackStartupError(
            f"Slack at {redact_url(secrets.api_url)} answered the {what} check with "
            f"{code or f'HTTP {status}'}; try again later or check SLACK_API_URL"
        )
    reason = _scrub(str(error), secrets) if error is not None else "unknown error"
    return SlackStartupError(
        f"cannot reach Slack at {redact_url(secrets.api_url)} to check the {what}: {reason}"
    )


# --------------------------------------------------------------------------- HTTP mode


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


# --------------------------------------------------------------------------- Socket Mode


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
        raise _startup_error(exc, secrets, "SLACK_APP_TOKEN", "app-level token") from None
    log.info("Slack Socket Mode: connected")
    return SocketModeHandle(handler, app)


# --------------------------------------------------------------------------- choosing


def start_slack(
    runtime: Runtime,
    secrets: SlackSecrets,
    *,
    port: int,
    poster: Deliverer | None,
    host: str = "0.0.0.0",  # noqa: S104
) -> SlackHandle:
    """Socket Mode when an app-level token is set, else HTTP mode on `port`."""
    if secrets.app_token:
        app = build_app(runtime, secrets, poster=poster)
        return serve_socket_mode(app, secrets.app_token)
    if not secrets.signing_secret:
        raise SlackStartupError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    app = build_app(runtime, secrets, poster=poster)
    return serve_http(app, port=port, host=host)


# --------------------------------------------------------------------------- helpers


def _scrub(text: str, secrets: SlackSecrets) -> str:
    for secret in (secrets.bot_token, secrets.app_token, secrets.signing_secret):
        if secret:
            text = text.replace(secret, "***")
    return text
