"""A fake Slack Web API on loopback that the real `slack_sdk.WebClient` can talk to.

Point a client at it with `WebClient(token=fake.token, base_url=fake.url)`. It
answers the methods briefbot uses (auth.test, chat.postMessage,
chat.postEphemeral, conversations.open/history/replies, users.info,
files.getUploadURLExternal + the upload + files.completeUploadExternal, the
assistant panel's assistant.threads.setStatus/setSuggestedPrompts/setTitle,
views.publish/open/update, and apps.connections.open for Socket Mode) the way
Slack does, checks the bearer
token, refuses payloads over Slack's message limits with Slack's own error
codes, keeps every channel's messages with their `ts`, and records every call
so tests can assert what reached "Slack".

Not obvious:
- Slack answers API errors (`channel_not_found`, `invalid_auth`, ...) with HTTP
  200 and `{"ok": false, "error": ...}`; only rate limits (429 + Retry-After)
  and outages (5xx) use the HTTP status. The fake does the same.
- slack_sdk sends chat.postMessage / chat.postEphemeral as JSON and the other
  methods form-encoded (booleans as "1"/"0"); the fake accepts both, plus query
  strings, and records the parameters exactly as they arrived.
- Faults are programmable per method (`fail_next`): HTTP 5xx, 429 with
  Retry-After, any Slack error code, a dropped connection before or after the
  call took effect (the second is the "did Slack post it?" case), or a delay.
  `down()` refuses connections outright (the listening socket is closed and
  later re-bound on the same port) or answers 503.
- `hold()` keeps calls of a method (to one channel, if given) open, unanswered
  and not acted on, until the test releases them: the returned `Hold` has an
  event set once a call is being held, so a test waits on that, never on a
  sleep, to act while a post is "at Slack". `stop()` releases every hold (the
  held calls are then dropped unanswered).
- `conversations.history` lists top-level messages only, newest first, like
  Slack; thread replies are read with `conversations.replies`. Message metadata
  is returned only when `include_all_metadata` is set.
- apps.connections.open takes the app-level token (`app_token`), the other
  methods the bot token; the wrong kind is refused with
  `not_allowed_token_type`, as Slack does. It answers with `socket_mode_url`
  (set it to a local WebSocket server's URL), each call counted in `calls()`.
- File uploads (slack_sdk's `files_upload_v2`): files.getUploadURLExternal
  needs a filename and a positive `length` and answers with a file id and an
  `upload_url` on this same server (`/upload/v1/<id>`, no token, as Slack's
  is pre-signed); the POST there must carry exactly `length` bytes (else
  HTTP 400, and an unknown id 404); files.completeUploadExternal shares files
  that were uploaded (`file_not_found` otherwise, `invalid_arguments` for a
  malformed `files`) in a channel the bot may post to. `files()` lists what
  was shared: bytes, filename, title, channel, initial comment, thread. A
  shared file also appears in the channel's history as a message with `files`.
- views.publish, views.open and views.update (tests/support/fakeviews.py) keep
  the Home tabs and modals (`fake.views`), each checked against Block Kit's
  limits as Slack checks them; buttons in messages are checked the same way.
- Many workspaces (Slack's OAuth): `add_workspace(code, team_id, bot_token)`
  makes an install code that `oauth.v2.access` (client id and secret in the
  Basic Authorization header, as slack_sdk sends them; `client_id` and
  `client_secret` here) exchanges for that workspace's bot token. Each
  workspace's token is then accepted like the default one, and auth.test
  answers with the team of the token it was called with; `Call.token` says
  which token made each call. `revoke(team_id)` makes its token
  `token_revoked`. `api.test` needs no token.
- Only ever binds 127.0.0.1; handler threads are daemons; every wait watches the
  stop event so `stop()` never hangs (the server's lifecycle is tests/support/loopback.py's).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import sys
import threading
import time
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.fakeviews import FakeViews, ViewError, element_problems
from tests.support.loopback import LoopbackHandler, LoopbackServer

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_TOKEN",
    "MAX_BLOCKS",
    "MAX_BLOCKS_TEXT",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_HEADER_TEXT",
    "MAX_SECTION_TEXT",
    "MAX_TEXT",
    "Call",
    "FakeSlack",
    "Hold",
    "PostedMessage",
    "SharedFile",
]

DEFAULT_TOKEN = "xoxb-1234567890-0987654321-fAk3sLaCkT0k3nV4lu3"
DEFAULT_APP_TOKEN = "xapp-1-A0FAKEAPP-1234567890-s0ck3tM0d3fAk3T0k3n"
# Methods called with the app-level (xapp-) token rather than the bot token.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
# Methods that take no token: the OAuth exchange (client id and secret) and api.test.
_NO_TOKEN_METHODS = frozenset({"oauth.v2.access", "api.test"})


@dataclass(frozen=True)
class FakeWorkspace:
    """A workspace the app can be installed in: its install code, team and bot token."""

    code: str
    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    bot_id: str


# Slack's documented message limits (Block Kit reference, chat.postMessage).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BLOCK_ID = 255
MAX_TEXT = 40_000
# Undocumented: `msg_blocks_too_long` appears near 13,000 characters of text
# across all blocks of one message (slackapi/bolt-js#2509 measured 13,172-13,297).
MAX_BLOCKS_TEXT = 13_000

_KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_DROP_MODES = frozenset({"before", "after"})


@dataclass(frozen=True)
class Call:
    """One Web API request as the fake received and answered it."""

    method: str
    params: dict[str, Any]  # as sent: JSON values, or strings when form-encoded
    token: str | None
    time: float  # time.monotonic() when the request had been read
    status: int  # HTTP status answered; 0 when the connection was dropped
    error: str | None  # Slack's `error` code when the answer had ok=false
    content_type: str

    def json_param(self, name: str) -> Any:
        """A parameter decoded the way Slack reads it (form fields carry JSON text)."""
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass(frozen=True)
class PostedMessage:
    """A message the fake accepted, in the order it was posted."""

    channel: str
    ts: str
    text: str
    blocks: list[Any] | None
    thread_ts: str | None
    metadata: dict[str, Any] | None
    params: dict[str, Any]  # everything chat.postMessage received (token excluded)
    user: str | None = None  # the recipient, for ephemeral messages


@dataclass(frozen=True)
class SharedFile:
    """A file shared by files.completeUploadExternal, as uploaded."""

    id: str
    filename: str
    title: str
    content: bytes
    channel: str | None
    initial_comment: str | None
    thread_ts: str | None
    alt_text: str | None


@dataclass
class _Upload:
    """A file between files.getUploadURLExternal and files.completeUploadExternal."""

    id: str
    filename: str
    length: int
    alt_text: str | None
    content: bytes | None = None


@dataclass
class _Channel:
    id: str
    member: bool = True
    archived: bool = False
    name: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _User:
    id: str
    name: str
    tz: str
    admin: bool = False  # a workspace admin (users.info's is_admin)


class Hold:
    """Calls held open at the fake until `release()` (made by `FakeSlack.hold`).

    `held` is set once a call is being held (the first of `limit`); `count`
    says how many were held so far. After `release()` each held call goes on
    as if it had just arrived: answered, its message posted.
    """

    def __init__(self, method: str, channel: str | None, limit: int) -> None:
        self.method = method
        self.channel = channel
        self.limit = limit
        self.count = 0
        self.held = threading.Event()
        self.released = threading.Event()

    def matches(self, method: str, params: Mapping[str, Any]) -> bool:
        if self.count >= self.limit or method != self.method:
            return False
        return self.channel is None or str(params.get("channel") or "") == self.channel

    def release(self) -> None:
        """Let every call held (and any still to come under this hold) go on."""
        self.released.set()


@dataclass(frozen=True)
class _Fault:
    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    drop: str | None = None
    delay: float = 0.0


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    error: str | None = None


class _ApiError(Exception):
    """A Slack API error answer: HTTP 200 with ok=false."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


class FakeSlack(LoopbackServer):
    """Threaded loopback server speaking enough of the Slack Web API for slack_sdk.

    Use as a context manager, or `start()` / `stop()`. Thread-safe.
    `strict=False` (the default) accepts any well-formed channel id (C…, G…, D…)
    and user id (U…, W…) as existing and joined; `add_channel` / `add_user`
    configure the ones a test cares about, and with `strict=True` only those exist.
    """

    thread_name = "fakeslack"

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        strict: bool = False,
        default_tz: str = "UTC",
        team_id: str = "T0FAKETEAM",
        bot_user_id: str = "U0BRIEFBOT",
        bot_id: str = "B0BRIEFBOT",
        app_token: str = DEFAULT_APP_TOKEN,
    ) -> None:
        super().__init__(_SlackHandler)
        self.token = token
        self.strict = strict
        self.default_tz = default_tz
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_token = app_token
        # What apps.connections.open hands out: a Socket Mode WebSocket URL.
        self.socket_mode_url: str | None = None
        self._lock = threading.RLock()
        self._listen_lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._users: dict[str, _User] = {}
        self._calls: list[Call] = []
        self._posts: list[PostedMessage] = []
        self._ephemerals: list[PostedMessage] = []
        self._assistant_threads: dict[tuple[str, str], dict[str, Any]] = {}
        self._faults: dict[str, deque[_Fault | None]] = {}
        self._holds: list[Hold] = []
        self._down: str | None = None
        self._up_timer: threading.Timer | None = None
        self._last_ts_us = 0
        self._uploads: dict[str, _Upload] = {}
        self._files: list[SharedFile] = []
        # Home tabs and modals (views.publish / open / update).
        self.views = FakeViews()
        # Slack's OAuth: the app's credentials and the workspaces it can be installed in.
        self.client_id = "1234567890.0987654321"
        self.client_secret: str | None = None
        self._workspaces: dict[str, FakeWorkspace] = {}  # by install code
        self._revoked: set[str] = set()
        self._caller: str | None = None  # the token of the call being answered
        self._basic: tuple[str, str] | None = None  # client id and secret of the call

    def add_workspace(
        self, code: str, team_id: str, bot_token: str, *, team_name: str = ""
    ) -> FakeWorkspace:
        """A workspace installing the app with `code` gets `bot_token` (oauth.v2.access)."""
        suffix = team_id[1:]
        workspace = FakeWorkspace(
            code, team_id, team_name or team_id, bot_token, f"U0BOT{suffix}", f"B0BOT{suffix}"
        )
        with self._lock:
            self._workspaces[code] = workspace
        return workspace

    def revoke(self, team_id: str) -> None:
        """The workspace's bot token is refused from now on (token_revoked)."""
        with self._lock:
            self._revoked.add(team_id)

    def _workspace_of(self, token: str | None) -> FakeWorkspace | None:
        return next((w for w in self._workspaces.values() if w.bot_token == token), None)

    # -- lifecycle ---------------------------------------------------------

    def stop(self) -> None:
        # `stopping` first: an `up()` whose timer already fired then stays down.
        self.stopping.set()
        self._cancel_up_timer()
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            hold.release()  # a held call sees `stopping` and is dropped
        # Under the listen lock, so stopping never interleaves with down()/up().
        with self._listen_lock:
            super().stop()

    # -- where clients connect ---------------------------------------------

    @property
    def url(self) -> str:
        """The Web API base URL, with the trailing slash slack_sdk joins methods onto."""
        return f"{self.origin}/api/"

    # -- workspace contents ------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        member: bool = True,
        archived: bool = False,
        name: str | None = None,
    ) -> None:
        """Create (or reconfigure) a channel; `member=False`: the bot was not invited.

        `name` (without #) is what conversations.list reports.
        """
        with self._lock:
            existing = self._channels.get(channel_id)
            if existing is None:
                self._channels[channel_id] = _Channel(channel_id, member, archived, name)
            else:
                existing.member = member
                existing.archived = archived
                existing.name = name if name is not None else existing.name

    def add_user(
        self, user_id: str, *, name: str | None = None, tz: str | None = None, admin: bool = False
    ) -> None:
        """Create a user; `tz` is an IANA zone name as Slack's users.info gives it; `admin`:
        an admin of the workspace (users.info's is_admin)."""
        with self._lock:
            self._users[user_id] = _User(
                user_id, name or user_id.lower(), tz or self.default_tz, admin
            )

    def user_message(self, user_id: str, text: str, *, thread_ts: str | None = None) -> str:
        """A message `user_id` typed in their DM with the bot (in a thread if given); its ts.

        What Slack stores before it sends the `message.im` event a test then signs.
        """
        with self._lock:
            channel = self._channel("D" + self._user(user_id).id)
            ts = self._next_ts()
            message: dict[str, Any] = {"type": "message", "user": user_id, "text": text, "ts": ts}
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            channel.messages.append(message)
            return ts

    def open_assistant_thread(self, user_id: str) -> tuple[str, str]:
        """The user opens the assistant panel: (channel id, thread ts) of its new thread.

        Slack starts the thread with a message of subtype `assistant_app_thread`
        by the app, then sends `assistant_thread_started`.
        """
        with self._lock:
            channel = self._channel("D" + self._user(user_id).id)
            ts = self._next_ts()
            channel.messages.append(
                {
                    "type": "message",
                    "subtype": "assistant_app_thread",
                    "user": self.bot_user_id,
                    "bot_id": self.bot_id,
                    "text": "New Assistant Thread",
                    "ts": ts,
                    "thread_ts": ts,
                }
            )
            self._assistant_threads[(channel.id, ts)] = {}
            return channel.id, ts

    def assistant_thread(self, channel_id: str, thread_ts: str) -> dict[str, Any]:
        """What the app set on an assistant thread: status, title, prompts (latest of each)."""
        with self._lock:
            return dict(self._assistant_threads[(channel_id, thread_ts)])

    # -- faults ------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        drop: str | None = None,
        delay: float = 0.0,
        skip: int = 0,
    ) -> None:
        """Make the next `n` calls of `method` ("*": any method) fail, after `skip` pass.

        - `status=500` (no error): that HTTP status with a non-JSON body, as a
          load balancer in front of Slack answers;
        - `error="ratelimited"`: HTTP 429 with `Retry-After: retry_after` (default 1);
        - `error="channel_not_found"` etc.: HTTP 200 with ok=false and that code;
        - `drop="before"`: read the request, then close the connection without
          an answer and without acting on it; `drop="after"`: act on it (post the
          message), then close without an answer;
        - `delay`: wait that many seconds before answering (alone: then answer normally).
        Calls of `fail_next` queue up in order.
        """
        if drop is not None and drop not in _DROP_MODES:
            raise ValueError(f"drop must be 'before' or 'after', not {drop!r}")
        if status is None and error is None and drop is None and not delay:
            raise ValueError("fail_next needs a status, an error, a drop or a delay")
        if error == "ratelimited":
            status = status or 429
            retry_after = 1 if retry_after is None else retry_after
        fault = _Fault(status, error, retry_after, drop, delay)
        with self._lock:
            queue = self._faults.setdefault(method, deque())
            queue.extend([None] * skip)
            queue.extend([fault] * n)

    def hold(self, method: str, *, channel: str | None = None, count: int = 1) -> Hold:
        """Hold the next `count` calls of `method` (to `channel`, if given) open.

        A held call is read but neither answered nor acted on until the
        returned `Hold` is released; then it is answered as usual (faults
        queued with `fail_next` apply after the hold). Wait on `Hold.held` to
        know a call is being held. Holds queue up in order.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        hold = Hold(method, channel, count)
        with self._lock:
            self._holds.append(hold)
            stopped = self.stopping.is_set()
        if stopped:
            hold.release()
        return hold

    def down(self, mode: str = "refuse", *, for_seconds: float | None = None) -> None:
        """Take "Slack" down: `refuse` connections, or answer every call with `503`.

        With `for_seconds`, it comes back up by itself after that long.
        """
        if mode not in ("refuse", "503"):
            raise ValueError(f"down mode must be 'refuse' or '503', not {mode!r}")
        self._cancel_up_timer()
        with self._listen_lock:
            with self._lock:
                was = self._down
                self._down = mode
            if mode == "refuse" and was != "refuse":
                self._stop_serving()
                self.socket.close()
        if for_seconds is not None:
            timer = threading.Timer(for_seconds, self.up)
            timer.daemon = True
            with self._lock:
                self._up_timer = timer
            timer.start()

    def up(self) -> None:
        """Bring "Slack" back: listen again on the same port, answer normally."""
        with self._listen_lock:
            if self.stopping.is_set():
                return
            with self._lock:
                was = self._down
                self._down = None
            if was == "refuse":
                # server_address still holds the port of the socket before
                # down(): the new socket binds to the same one.
                self.socket = socket.socket(self.address_family, self.socket_type)
                self.server_bind()
                self.server_activate()
                self._start_serving()

    def _cancel_up_timer(self) -> None:
        with self._lock:
            timer, self._up_timer = self._up_timer, None
        if timer is not None:
            timer.cancel()

    # -- what clients did --------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Calls answered so far, oldest first; only those of `method` if given."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def messages(self, channel: str | None = None) -> list[PostedMessage]:
        """Messages posted (thread replies included), oldest first."""
        with self._lock:
            return [m for m in self._posts if channel is None or m.channel == channel]

    def ephemerals(self, channel: str | None = None) -> list[PostedMessage]:
        with self._lock:
            return [m for m in self._ephemerals if channel is None or m.channel == channel]

    def files(self, channel: str | None = None) -> list[SharedFile]:
        """Files shared (files.completeUploadExternal), oldest first."""
        with self._lock:
            return [f for f in self._files if channel is None or f.channel == channel]

    # -- answering ---------------------------------------------------------

    def answer(self, path: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Turn one HTTP request into the reply Slack would give (records the call)."""
        received = time.monotonic()
        split = urlsplit(path)
        if split.path.startswith(_UPLOAD_PATH):
            return self._receive_upload(split.path[len(_UPLOAD_PATH) :], body)
        if not split.path.startswith("/api/"):
            return _Reply(404, b"not found\n", "text/plain; charset=utf-8")
        method = split.path[len("/api/") :]
        content_type = headers.get("content-type", "")
        params, token, parse_error = _read_params(split.query, content_type, body)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            # Slack takes the token from the header or, failing that, a `token` field.
            token = credentials.strip()
        basic = _basic_credentials(credentials) if scheme.lower() == "basic" else None

        hold = self._take_hold(method, params)
        if hold is not None:
            hold.released.wait()
        if hold is not None and self.stopping.is_set():
            reply = _Reply(503, drop=True)
        else:
            reply = self._answer_call(method, params, token, parse_error, basic)
        with self._lock:
            self._calls.append(
                Call(
                    method=method,
                    params=params,
                    token=token,
                    time=received,
                    status=0 if reply.drop else reply.status,
                    error=reply.error,
                    content_type=content_type,
                )
            )
        return reply

    def _answer_call(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        parse_error: str | None,
        basic: tuple[str, str] | None = None,
    ) -> _Reply:
        with self._lock:
            down = self._down
            fault = self._take_fault(method)
        if down == "503":
            return _Reply(503, b"<html>503 Service Unavailable</html>", "text/html")
        drop_after = False
        if fault is not None:
            if fault.delay and self.stopping.wait(fault.delay):
                return _Reply(503, drop=True)
            if fault.drop == "before":
                return _Reply(0, drop=True)
            drop_after = fault.drop == "after"
            if fault.status is not None or fault.error is not None:
                return _fault_reply(fault)
        reply = self._dispatch(method, params, token, parse_error, basic)
        reply.drop = drop_after
        return reply

    def _take_hold(self, method: str, params: Mapping[str, Any]) -> Hold | None:
        with self._lock:
            hold = next((h for h in self._holds if h.matches(method, params)), None)
            if hold is None:
                return None
            hold.count += 1
        hold.held.set()
        return hold

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method, "*"):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    def _dispatch(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        parse_error: str | None,
        basic: tuple[str, str] | None = None,
    ) -> _Reply:
        handler = _METHODS.get(method)
        try:
            if handler is None:
                raise _ApiError("unknown_method", req_method=method)
            if parse_error is not None:
                raise _ApiError(parse_error)
            if method not in _NO_TOKEN_METHODS:
                self._check_token(method, token)
            with self._lock:
                self._caller, self._basic = token, basic
                data = handler(self, params)
        except _ApiError as exc:
            return _json_reply(200, {"ok": False, "error": exc.code, **exc.extra}, exc.code)
        return _json_reply(200, {"ok": True, **data})

    def _check_token(self, method: str, token: str | None) -> None:
        if not token:
            raise _ApiError("not_authed")
        with self._lock:
            workspace = self._workspace_of(token)
            revoked = workspace is not None and workspace.team_id in self._revoked
        if revoked:
            raise _ApiError("token_revoked")
        if workspace is not None and method not in _APP_TOKEN_METHODS:
            return
        expected = self.app_token if method in _APP_TOKEN_METHODS else self.token
        if token != expected:
            known = token in (self.token, self.app_token) or workspace is not None
            raise _ApiError("not_allowed_token_type" if known else "invalid_auth")

    def _receive_upload(self, file_id: str, body: bytes) -> _Reply:
        """The POST of a file's bytes to the URL files.getUploadURLExternal gave."""
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None:
                return _Reply(404, b"not found", "text/plain; charset=utf-8")
            if len(body) != upload.length:
                message = f"length {len(body)} does not match {upload.length}".encode()
                return _Reply(400, message, "text/plain; charset=utf-8")
            upload.content = bytes(body)
        return _Reply(200, f"OK - {len(body)}".encode(), "text/plain; charset=utf-8")

    # -- Slack's model (called with the lock held) --------------------------

    def _next_ts(self) -> str:
        # Slack's ts is "seconds.microseconds" and unique within a channel.
        now_us = time.time_ns() // 1000
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _user(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is None and not self.strict and _USER_ID.fullmatch(user_id):
            user = _User(user_id, user_id.lower(), self.default_tz)
            self._users[user_id] = user
        if user is None:
            raise _ApiError("user_not_found")
        return user

    def _channel(self, channel_id: str) -> _Channel:
        if _USER_ID.fullmatch(channel_id):
            # chat.postMessage to a user id posts into the app's DM with them.
            channel_id = "D" + self._user(channel_id).id
        channel = self._channels.get(channel_id)
        if channel is None and (
            (not self.strict and _CHANNEL_ID.fullmatch(channel_id))
            or (channel_id.startswith("D") and channel_id[1:] in self._users)
        ):
            channel = self._channels[channel_id] = _Channel(channel_id)
        if channel is None:
            raise _ApiError("channel_not_found")
        return channel

    def _writable_channel(self, channel_id: str) -> _Channel:
        channel = self._channel(channel_id)
        if channel.archived:
            raise _ApiError("is_archived")
        if not channel.member:
            raise _ApiError("not_in_channel")
        return channel

    def _readable_channel(self, channel_id: str) -> _Channel:
        channel = self._channel(channel_id)
        if not channel.member:
            raise _ApiError("not_in_channel")
        return channel


# -- method handlers (FakeSlack lock held) -----------------------------------


def _auth_test(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    workspace = fake._workspace_of(fake._caller)
    if workspace is not None:
        return {
            "url": f"https://{workspace.team_id.lower()}.slack.com/",
            "team": workspace.team_name,
            "user": "briefbot",
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }
    return {
        "url": "https://fake-workspace.slack.com/",
        "team": "Fake Workspace",
        "user": "briefbot",
        "team_id": fake.team_id,
        "user_id": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "is_enterprise_install": False,
    }


def _basic_credentials(credentials: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _oauth_v2_access(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """The install code exchanged for the workspace's bot token (Slack's OAuth v2)."""
    basic = fake._basic or (
        str(params.get("client_id") or ""),
        str(params.get("client_secret") or ""),
    )
    if basic[0] != fake.client_id:
        raise _ApiError("invalid_client_id")
    if fake.client_secret is None or basic[1] != fake.client_secret:
        raise _ApiError("bad_client_secret")
    workspace = fake._workspaces.get(str(params.get("code") or ""))
    if workspace is None:
        raise _ApiError("invalid_code")
    return {
        "access_token": workspace.bot_token,
        "token_type": "bot",
        "scope": "commands,chat:write,im:write",
        "bot_user_id": workspace.bot_user_id,
        "app_id": "A0FAKEAPP",
        "team": {"id": workspace.team_id, "name": workspace.team_name},
        "enterprise": None,
        "authed_user": {"id": f"U0INSTALLER{workspace.team_id[1:]}"},
        "is_enterprise_install": False,
    }


def _api_test(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    return {}


def _chat_post_message(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel = fake._writable_channel(_required(params, "channel"))
    text, blocks = _check_message(params)
    metadata = _check_metadata(params.get("metadata"))
    thread_ts = _optional_str(params.get("thread_ts"))
    parent: dict[str, Any] | None = None
    if thread_ts:
        parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
        if parent is None:
            raise _ApiError("thread_not_found")
        # A reply to a reply lands in the parent's thread.
        thread_ts = parent.get("thread_ts", thread_ts)
        parent = next(m for m in channel.messages if m["ts"] == thread_ts)
    ts = fake._next_ts()
    message: dict[str, Any] = {
        "type": "message",
        "user": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "team": fake.team_id,
        "text": text,
        "ts": ts,
    }
    if blocks is not None:
        message["blocks"] = blocks
    if metadata is not None:
        message["metadata"] = metadata
    if parent is not None:
        message["thread_ts"] = thread_ts
        message["parent_user_id"] = parent["user"]
        parent["thread_ts"] = thread_ts
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent["latest_reply"] = ts
    channel.messages.append(message)
    recorded = dict(params)
    fake._posts.append(
        PostedMessage(channel.id, ts, text, blocks, thread_ts or None, metadata, recorded)
    )
    return {"channel": channel.id, "ts": ts, "message": _public(message, with_metadata=False)}


def _chat_post_ephemeral(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel = fake._writable_channel(_required(params, "channel"))
    user = fake._user(_required(params, "user"))
    text, blocks = _check_message(params)
    ts = fake._next_ts()
    fake._ephemerals.append(
        PostedMessage(channel.id, ts, text, blocks, None, None, dict(params), user=user.id)
    )
    return {"message_ts": ts}


def _conversations_open(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("channel"):
        return {"channel": {"id": fake._readable_channel(str(params["channel"])).id}}
    users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
    if not users:
        raise _ApiError("users_list_not_supplied")
    if len(users) > 1:
        raise _ApiError("fake_supports_one_user_only")
    user = fake._user(users[0])
    channel = fake._channel("D" + user.id)
    return {"no_op": bool(channel.messages), "already_open": True, "channel": {"id": channel.id}}


def _conversations_history(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel = fake._readable_channel(_required(params, "channel"))
    oldest = _ts_micros(params.get("oldest"), "invalid_ts_oldest", default=0)
    latest = _ts_micros(params.get("latest"), "invalid_ts_latest", default=sys.maxsize)
    inclusive = _as_bool(params.get("inclusive"))
    with_metadata = _as_bool(params.get("include_all_metadata"))

    def in_range(ts: str) -> bool:
        value = _ts_micros(ts, "invalid_ts", default=0)
        if inclusive:
            return oldest <= value <= latest
        return oldest < value < latest

    top_level = [
        m for m in channel.messages if m.get("thread_ts", m["ts"]) == m["ts"] and in_range(m["ts"])
    ]
    newest_first = sorted(top_level, key=lambda m: _ts_micros(m["ts"], "invalid_ts", default=0))
    newest_first.reverse()
    page, next_cursor = _paginate(newest_first, params, default_limit=100)
    return {
        "messages": [_public(m, with_metadata=with_metadata) for m in page],
        "has_more": bool(next_cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": next_cursor},
    }


def _conversations_replies(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    channel = fake._readable_channel(_required(params, "channel"))
    ts = _required(params, "ts")
    with_metadata = _as_bool(params.get("include_all_metadata"))
    parent = next((m for m in channel.messages if m["ts"] == ts), None)
    if parent is None:
        raise _ApiError("thread_not_found")
    root = parent.get("thread_ts", ts)
    thread = [m for m in channel.messages if m["ts"] == root or m.get("thread_ts") == root]
    thread.sort(key=lambda m: _ts_micros(m["ts"], "invalid_ts", default=0))
    page, next_cursor = _paginate(thread, params, default_limit=1000)
    return {
        "messages": [_public(m, with_metadata=with_metadata) for m in page],
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


def _conversations_list(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """Named channels as Slack lists them: public ones, and private ones (G…) the bot is in."""
    types = set(str(params.get("types") or "public_channel").split(","))
    exclude_archived = _as_bool(params.get("exclude_archived"))
    with fake._lock:
        channels = sorted(fake._channels.values(), key=lambda c: c.id)
    listed = []
    for channel in channels:
        private = channel.id.startswith("G")
        if channel.name is None or (exclude_archived and channel.archived):
            continue
        if ("private_channel" if private else "public_channel") not in types:
            continue
        if private and not channel.member:
            continue  # Slack lists only the private channels the bot belongs to
        listed.append(
            {
                "id": channel.id,
                "name": channel.name,
                "is_channel": not private,
                "is_group": private,
                "is_private": private,
                "is_archived": channel.archived,
                "is_member": channel.member,
            }
        )
    page, next_cursor = _paginate(listed, params, default_limit=100)
    return {"channels": page, "response_metadata": {"next_cursor": next_cursor}}


def _users_info(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    user = fake._user(_required(params, "user"))
    try:
        zone = zoneinfo.ZoneInfo(user.tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    now = datetime.now(UTC).astimezone(zone)
    offset = now.utcoffset()
    return {
        "user": {
            "id": user.id,
            "team_id": fake.team_id,
            "name": user.name,
            "real_name": user.name.title(),
            "deleted": False,
            "is_bot": False,
            "is_admin": user.admin,
            "is_owner": False,
            "tz": user.tz,
            "tz_label": now.tzname() or user.tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
        }
    }


def _apps_connections_open(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    if fake.socket_mode_url is None:
        raise _ApiError("fake_socket_mode_url_not_set")
    return {"url": fake.socket_mode_url}


_UPLOAD_PATH = "/upload/v1/"


def _files_get_upload_url_external(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    filename = _optional_str(params.get("filename"))
    length = str(params.get("length") or "")
    if not filename or not length.isdigit() or int(length) < 1:
        raise _ApiError("invalid_arguments")
    file_id = f"F{len(fake._uploads) + 1:010d}"
    fake._uploads[file_id] = _Upload(
        file_id, filename, int(length), _optional_str(params.get("alt_txt"))
    )
    return {"upload_url": f"{fake.origin}{_UPLOAD_PATH}{file_id}", "file_id": file_id}


def _files_complete_upload_external(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    listed = params.get("files")
    try:
        entries = json.loads(listed) if isinstance(listed, str) else listed
    except ValueError:
        raise _ApiError("invalid_arguments") from None
    if not isinstance(entries, list) or not entries:
        raise _ApiError("invalid_arguments")
    if any(not isinstance(e, dict) or not isinstance(e.get("id"), str) for e in entries):
        raise _ApiError("invalid_arguments")
    uploads = [fake._uploads.get(entry["id"]) for entry in entries]
    if any(upload is None or upload.content is None for upload in uploads):
        raise _ApiError("file_not_found")
    channel_id = _optional_str(params.get("channel_id"))
    channel = fake._writable_channel(channel_id) if channel_id else None
    thread_ts = _optional_str(params.get("thread_ts"))
    if thread_ts and channel is not None and all(m["ts"] != thread_ts for m in channel.messages):
        raise _ApiError("thread_not_found")
    comment = _optional_str(params.get("initial_comment"))
    answered = []
    for entry, upload in zip(entries, uploads, strict=True):
        assert upload is not None and upload.content is not None
        title = str(entry.get("title") or upload.filename)
        shared = SharedFile(
            upload.id,
            upload.filename,
            title,
            upload.content,
            channel.id if channel else None,
            comment,
            thread_ts,
            upload.alt_text,
        )
        fake._files.append(shared)
        answered.append({"id": upload.id, "name": upload.filename, "title": title})
    if channel is not None:
        message: dict[str, Any] = {
            "type": "message",
            "user": fake.bot_user_id,
            "text": comment or "",
            "ts": fake._next_ts(),
            "files": answered,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        channel.messages.append(message)
    return {"files": answered}


def _views_method(name: str) -> Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]:
    def call(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(fake.views, name)(params)
        except ViewError as err:
            extra = {"response_metadata": {"messages": [f"[ERROR] {p}" for p in err.problems]}}
            raise _ApiError(err.code, **(extra if err.problems else {})) from None
        return result

    return call


# Slack's limits on the assistant methods (assistant.threads.* reference pages).
MAX_SUGGESTED_PROMPTS = 4


def _assistant_thread(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """The assistant thread `channel_id` + `thread_ts` name; Slack's errors otherwise."""
    channel = fake._readable_channel(_required(params, "channel_id"))
    thread_ts = _required(params, "thread_ts")
    thread = fake._assistant_threads.get((channel.id, thread_ts))
    if thread is None:
        # A DM thread of the user's own also works as an assistant thread in Slack.
        if not any(m["ts"] == thread_ts for m in channel.messages):
            raise _ApiError("invalid_thread_ts")
        thread = fake._assistant_threads[(channel.id, thread_ts)] = {}
    return thread


def _assistant_set_status(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    thread = _assistant_thread(fake, params)
    status = params.get("status")
    if not isinstance(status, str):
        raise _ApiError("invalid_arguments")
    thread["status"] = status
    thread.setdefault("statuses", []).append(status)
    return {}


def _assistant_set_title(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    thread = _assistant_thread(fake, params)
    thread["title"] = _required(params, "title")
    return {}


def _assistant_set_suggested_prompts(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    thread = _assistant_thread(fake, params)
    prompts = params.get("prompts")
    if isinstance(prompts, str):
        try:
            prompts = json.loads(prompts)
        except ValueError:
            raise _ApiError("invalid_arguments") from None
    if not isinstance(prompts, list) or not 1 <= len(prompts) <= MAX_SUGGESTED_PROMPTS:
        raise _ApiError("invalid_arguments")
    for prompt in prompts:
        if not isinstance(prompt, dict) or not all(
            isinstance(prompt.get(key), str) and prompt[key] for key in ("title", "message")
        ):
            raise _ApiError("invalid_arguments")
    thread["prompts"] = prompts
    if params.get("title") is not None:
        thread["prompts_title"] = str(params["title"])
    return {}


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "views.publish": _views_method("publish"),
    "views.open": _views_method("open"),
    "views.update": _views_method("update"),
    "apps.connections.open": _apps_connections_open,
    "auth.test": _auth_test,
    "api.test": _api_test,
    "oauth.v2.access": _oauth_v2_access,
    "files.completeUploadExternal": _files_complete_upload_external,
    "files.getUploadURLExternal": _files_get_upload_url_external,
    "chat.postMessage": _chat_post_message,
    "chat.postEphemeral": _chat_post_ephemeral,
    "conversations.open": _conversations_open,
    "conversations.history": _conversations_history,
    "conversations.replies": _conversations_replies,
    "conversations.list": _conversations_list,
    "users.info": _users_info,
    "assistant.threads.setStatus": _assistant_set_status,
    "assistant.threads.setSuggestedPrompts": _assistant_set_suggested_prompts,
    "assistant.threads.setTitle": _assistant_set_title,
}


# -- message limits ----------------------------------------------------------


def _check_message(params: dict[str, Any]) -> tuple[str, list[Any] | None]:
    """Slack's checks on a message payload; raises the error code Slack answers with."""
    text = params.get("text")
    text = "" if text is None else str(text)
    blocks = params.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise _ApiError("invalid_blocks_format") from None
    if blocks is not None and not isinstance(blocks, list):
        raise _ApiError("invalid_blocks_format")
    if not text and not blocks and not params.get("attachments"):
        raise _ApiError("no_text")
    if len(text) > MAX_TEXT:
        raise _ApiError("msg_too_long")
    if blocks:
        problems = list(_block_problems(blocks))
        if problems:
            raise _ApiError(
                "invalid_blocks",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        if _text_length(blocks) > MAX_BLOCKS_TEXT:
            raise _ApiError("msg_blocks_too_long")
    return text, blocks


def _block_problems(blocks: list[Any]) -> Iterator[str]:
    # Slack words its invalid_blocks errors as "<reason> [json-pointer:<where>]".
    if len(blocks) > MAX_BLOCKS:
        yield f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            yield f"missing required field: type [json-pointer:{where}]"
            continue
        kind = block["type"]
        block_id = block.get("block_id")
        if isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID:
            yield f"must be less than {MAX_BLOCK_ID + 1} characters [json-pointer:{where}/block_id]"
        if isinstance(block_id, str) and block_id in block_ids:
            yield f"duplicate block_id {block_id!r} [json-pointer:{where}/block_id]"
        if isinstance(block_id, str):
            block_ids.add(block_id)
        if "accessory" in block:
            yield from element_problems(block["accessory"], f"{where}/accessory")
        if kind == "actions":
            yield from _actions_problems(block, where)
        if kind not in _KNOWN_BLOCK_TYPES:
            yield f"unsupported type: {kind} [json-pointer:{where}/type]"
        elif kind == "section":
            yield from _section_problems(block, where)
        elif kind == "header":
            yield from _text_object_problems(block.get("text"), f"{where}/text", MAX_HEADER_TEXT)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                yield f"must provide at least 1 item [json-pointer:{where}/elements]"
            elif len(elements) > MAX_CONTEXT_ELEMENTS:
                yield (
                    f"no more than {MAX_CONTEXT_ELEMENTS} items allowed "
                    f"[json-pointer:{where}/elements]"
                )


def _actions_problems(block: dict[str, Any], where: str) -> Iterator[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        yield f"must provide 1 to 25 items [json-pointer:{where}/elements]"
        return
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        yield from element_problems(element, f"{where}/elements/{i}")
        action_id = str(element.get("action_id")) if isinstance(element, dict) else ""
        if action_id in action_ids:
            yield f"duplicate action_id {action_id!r} [json-pointer:{where}/elements/{i}]"
        action_ids.add(action_id)


def _section_problems(block: dict[str, Any], where: str) -> Iterator[str]:
    text = block.get("text")
    fields = block.get("fields")
    if text is None and not fields:
        yield f"must provide either text or fields [json-pointer:{where}]"
    if text is not None:
        yield from _text_object_problems(text, f"{where}/text", MAX_SECTION_TEXT)
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
            yield f"no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{where}/fields]"
        else:
            for i, item in enumerate(fields):
                yield from _text_object_problems(item, f"{where}/fields/{i}", MAX_FIELD_TEXT)


def _text_object_problems(obj: Any, where: str, limit: int) -> Iterator[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        yield f"must be a text object [json-pointer:{where}]"
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield f"must be more than 0 characters [json-pointer:{where}/text]"
    elif len(text) > limit:
        yield f"must be less than {limit + 1} characters [json-pointer:{where}/text]"


def _text_length(value: Any) -> int:
    """Characters of every `text` string anywhere in the blocks."""
    if isinstance(value, list):
        return sum(_text_length(v) for v in value)
    if isinstance(value, dict):
        total = 0
        for key, item in value.items():
            total += len(item) if key == "text" and isinstance(item, str) else _text_length(item)
        return total
    return 0


def _check_metadata(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _ApiError("invalid_metadata_format") from None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("event_type"), str)
        or not isinstance(value.get("event_payload"), dict)
    ):
        raise _ApiError("invalid_metadata_format")
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


# -- small helpers -----------------------------------------------------------


def _read_params(
    query: str, content_type: str, body: bytes
) -> tuple[dict[str, Any], str | None, str | None]:
    """Request parameters (query string, then body), the token, and a parse error code."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    error: str | None = None
    kind = content_type.split(";", 1)[0].strip().lower()
    if body:
        if kind == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict):
                params.update(data)
            else:
                error = "invalid_json"
        elif kind == "application/x-www-form-urlencoded":
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            error = "invalid_form_data"
    token = params.pop("token", None)
    return params, (str(token) if token is not None else None), error


def _fault_reply(fault: _Fault) -> _Reply:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.error is None:
        status = fault.status or 500
        body = f"<html>{status} upstream trouble</html>".encode()
        return _Reply(status, body, "text/html", headers)
    reply = _json_reply(fault.status or 200, {"ok": False, "error": fault.error}, fault.error)
    reply.headers.update(headers)
    return reply


def _json_reply(status: int, data: dict[str, Any], error: str | None = None) -> _Reply:
    return _Reply(status, json.dumps(data).encode(), error=error)


def _public(message: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
    copy = json.loads(json.dumps(message))
    if not with_metadata:
        copy.pop("metadata", None)
    return dict(copy)


def _paginate(
    items: list[dict[str, Any]], params: dict[str, Any], *, default_limit: int
) -> tuple[list[dict[str, Any]], str]:
    try:
        limit = int(params.get("limit") or default_limit)
    except (TypeError, ValueError):
        limit = default_limit
    limit = min(max(limit, 1), 999)
    offset = 0
    cursor = params.get("cursor")
    if cursor:
        try:
            offset = int(base64.b64decode(str(cursor), validate=True).decode().split(":", 1)[1])
        except (binascii.Error, ValueError, IndexError):
            raise _ApiError("invalid_cursor") from None
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if more else ""
    return page, next_cursor


def _ts_micros(value: Any, error: str, *, default: int) -> int:
    if value is None or value == "":
        return default
    seconds, _, fraction = str(value).partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise _ApiError(error)
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise _ApiError(f"{name}_not_specified" if name == "channel" else "invalid_arguments")
    return str(value)


class _SlackHandler(LoopbackHandler):
    server: FakeSlack

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.answer(self.path, headers, body)
        if reply.drop:
            # Close without a byte of answer: the client sees RemoteDisconnected.
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
