"""The Bolt app answering `/brief` (and, given a `SurfaceHandler`, the Home tab, buttons
and forms: `bot.slack.surfaces`): `build_app`, whatever the transport.

`bot.slack.http` serves it over HTTP, `bot.slack.socketmode` over Socket Mode,
and `bot.slack.start.start_slack` picks one the way `briefbot run` does. The
app knows nothing of the bot's state: it turns each `/brief` into a
`bot.models.CommandRequest`, hands it to the `CommandHandler` it was built with
(in `briefbot run`, `bot.app.commands.handle_command` bound to the runtime) and
sends the `CommandReply` back.

Not obvious:
- The 3-second rule. Slack shows the user an error when a slash command is
  not acknowledged within 3 s. The listener's ack function only calls `ack()`;
  the work (the handler) runs in a Bolt lazy listener on the app's thread pool
  and answers through `respond()` (the `response_url`: valid 30 minutes, about
  5 uses, so a reply is capped at 5 messages). The app runs with
  `process_before_response=True` so the ack runs on the request's own thread:
  a pool busy with slow work can never delay an ack. Over HTTP a `/brief` is
  acknowledged even before Bolt sees it (bot/slack/ackfirst.py).
- Retries: Slack redelivers events it thinks failed (`X-Slack-Retry-Num`;
  Socket Mode carries the same as `retry_attempt`). Each `event_id` /
  `trigger_id` is handled once; a repeat within `SEEN_TTL` is acked and dropped.
  Several replicas behind a load balancer also ask `first_sight` (given to
  `build_app`: the replicas' shared table), since a retry may reach another.
- Secrets: Bolt's start-up `auth.test` and Socket Mode's
  `apps.connections.open` pass the token as a parameter, but slack_sdk moves it
  into the Authorization header, which its DEBUG log redacts (the tests log at
  DEBUG and look for every secret). Start-up errors name the setting, never
  its value.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.context.respond import Respond
from slack_bolt.error import BoltError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config.model import SlackSecrets
from bot.config.redact import redact_url
from bot.models import CommandReply, CommandRequest, SlackMessage
from bot.slack.ackgate import AckGate
from bot.slack.client import SlackClientConfigError, make_web_client
from bot.slack.installations import scope_team
from bot.slack.questions import QuestionHandler, register_questions
from bot.store.ports import InstallationVault
from bot.surfaces import HomeRequest, SurfaceHandler

__all__ = [
    "ACK_SWITCH_INTERVAL",
    "APOLOGY",
    "COMMAND",
    "MAX_RESPONSES",
    "SEEN_TTL",
    "STOP_GRACE",
    "BriefbotApp",
    "CommandHandler",
    "SeenRequests",
    "SlackStartupError",
    "build_app",
    "favour_acks",
    "scrub",
    "slash_command_problem",
    "startup_error",
]

log = logging.getLogger(__name__)

COMMAND = "/brief"
# A response_url accepts about 5 messages in its 30 minutes.
MAX_RESPONSES = 5
# Slack retries a failed event after ~0 s, 1 min and 5 min; keep ids well past that.
SEEN_TTL = 30 * 60.0
SEEN_MAX = 50_000
# How long `stop()` lets replies already being worked on finish.
STOP_GRACE = 10.0
# Seconds a thread may run before one waiting for the GIL gets it (Python's default: 0.005).
ACK_SWITCH_INTERVAL = 0.0005
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


class SlackStartupError(RuntimeError):
    """The Slack side cannot start (refused token, missing setting, port taken)."""


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
        # Installed in many workspaces (OAuth): requests carry their workspace.
        self.many_workspaces = False
        # Told of each HTTP request arrived and answered (bot/slack/ackgate.py).
        self.acks = AckGate()

    def finish(self, timeout: float = STOP_GRACE) -> None:
        """Let replies being worked on finish (up to `timeout` s), then stop the pool."""
        if not self.work.wait_idle(timeout):
            log.warning("stopping with /brief replies still being worked on")
        self.listener_runner.listener_executor.shutdown(wait=False, cancel_futures=True)


class _DropRepeats(Middleware):
    """Acks and drops a delivery whose event_id / trigger_id was already handled."""

    def __init__(self, seen: SeenRequests, shared: Callable[[str], bool] | None = None) -> None:
        self.seen = seen
        self.shared = shared

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        key = _delivery_key(req.body)
        if key is None or (
            self.seen.first_sight(key) and (self.shared is None or self.shared(key))
        ):
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


def slash_command_problem(body: Mapping[str, object]) -> str | None:
    """Why `body` is not a `/brief` command as Slack sends one (None when it is one).

    Slack sends a slash command's fields as strings (a form over HTTP, a JSON
    object of strings over Socket Mode). Bolt reads any such body safely; a
    list or a number where it expects a string or an object can crash it.
    """
    command = body.get("command")
    if command != COMMAND:
        if command is None:
            return f"not a slash command: briefbot answers only {COMMAND}"
        return f"the command {str(command)[:40]!r}: briefbot answers only {COMMAND}"
    for name, value in body.items():
        if not isinstance(value, str):
            return f"a {COMMAND} whose field {name[:40]!r} is not a string"
    return None


class CommandHandler(Protocol):
    """What answers a `/brief` line (in `briefbot run`: `handle_command` bound to the runtime)."""

    def __call__(self, request: CommandRequest) -> CommandReply: ...


class _DropTokenUnusedWarning(logging.Filter):
    """Bolt warns "`token` will be unused" whenever SLACK_BOT_TOKEN is in the environment
    and a client is given, which `briefbot run` always does: noise on every clean start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


logging.getLogger("slack_bolt.App").addFilter(_DropTokenUnusedWarning())


def build_app(
    secrets: SlackSecrets,
    handler: CommandHandler,
    *,
    surfaces: SurfaceHandler | None = None,
    token_verification: bool = True,
    questions: QuestionHandler | None = None,
    installations: InstallationVault | None = None,
    first_sight: Callable[[str], bool] | None = None,
) -> BriefbotApp:
    """The Bolt app answering `/brief` with `handler`, its client aimed at `SLACK_API_URL`.

    With `surfaces` it also answers the Home tab, buttons and forms
    (`bot.slack.surfaces`); with `questions`, questions in a DM and in the
    assistant panel (`bot.slack.questions`).

    With `token_verification` (keep it in production) the bot token is checked
    with auth.test now, so a bad token fails at start-up: SlackStartupError,
    naming the setting, never the token. `first_sight` (several replicas) says
    whether another replica already took a delivery (see the module docstring).

    With `installations` the app is installed in many workspaces through Slack's
    OAuth (`bot.slack.oauth`): each request is answered with its workspace's
    token, and each `/brief` carries its workspace (`CommandRequest.team_id`).
    """
    if installations is not None:
        app = new_oauth_app(secrets, installations)
        app.many_workspaces = True
    else:
        app = _new_app(secrets, token_verification=token_verification)
    app.use(_DropRepeats(app.seen, first_sight))

    def acknowledge(ack: Callable[..., None]) -> None:
        ack()  # nothing before this: Slack gives the whole round trip 3 seconds

    def answer(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        with app.work.track():
            app.acks.let_acks_go_first()
            reply = _answer_command(handler, command, respond, many=installations is not None)
            if surfaces is not None and reply.home_changed:
                home = HomeRequest(
                    user_id=str(command.get("user_id") or ""),
                    team_id=str(command.get("team_id") or "") if app.many_workspaces else "",
                    enterprise_id=(
                        str(command.get("enterprise_id") or "") if app.many_workspaces else ""
                    ),
                )
                _republish_home(client, surfaces, home)

    app.command(COMMAND)(ack=acknowledge, lazy=[answer])
    if installations is not None:
        app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked
    if surfaces is not None:
        # Here, not at the top: bot.slack.surfaces builds on this module.
        from bot.slack.surfaces import add_surfaces

        add_surfaces(app, surfaces)
    if questions is not None:
        register_questions(app, questions, app.work)
    return app


def favour_acks() -> None:
    """Let a thread waiting for the GIL have it after `ACK_SWITCH_INTERVAL`, not 5 ms.

    For a process that answers Slack. An acknowledgement takes the GIL a dozen
    times (sockets, queues, locks); each time, behind a busy thread (a command's
    search, a poll's matching, a digest's rendering), it waited up to Python's
    5 ms switch interval per busy thread. With two busy threads and 20 ms
    commands, bursts of 20 had an ack p99 of 400-1,180 ms at 5 ms and 65-175 ms
    at 0.2 ms (the ack benchmark, bench/ack_bench.py, has the whole bot's figures).
    CPU-bound work loses a few per cent to the extra switches.
    """
    if sys.getswitchinterval() > ACK_SWITCH_INTERVAL:
        sys.setswitchinterval(ACK_SWITCH_INTERVAL)


def new_oauth_app(secrets: SlackSecrets, installations: InstallationVault) -> BriefbotApp:
    """The Bolt app of a distributed bot (bot/slack/oauth.py; imported here to avoid a cycle)."""
    from bot.slack.oauth import oauth_app

    return oauth_app(secrets, installations, BriefbotApp)


def _new_app(secrets: SlackSecrets, *, token_verification: bool) -> BriefbotApp:
    """The Bolt app with its client; Slack's refusals of the token as SlackStartupError."""
    try:
        client = make_web_client(secrets)
    except SlackClientConfigError as exc:
        raise SlackStartupError(str(exc)) from None
    try:
        return BriefbotApp(
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
            raise startup_error(error, secrets, "SLACK_BOT_TOKEN", "bot token") from None
        raise SlackStartupError(
            f"the Slack app could not start: {scrub(str(exc), secrets)}"
        ) from None
    except (SlackClientError, OSError) as exc:
        raise startup_error(exc, secrets, "SLACK_BOT_TOKEN", "bot token") from None


def _republish_home(client: WebClient, surfaces: SurfaceHandler, request: HomeRequest) -> None:
    """Publish a Home tab again after a command changed it (never fails the command)."""
    user = request.user_id
    try:
        view = surfaces.home(request)
        client.views_publish(user_id=user, view=view.payload())
    except Exception as exc:
        log.warning("could not refresh the Home tab of %s: %s", user, type(exc).__name__)


def _answer_command(
    handler: CommandHandler, command: Mapping[str, Any], respond: Respond, *, many: bool = False
) -> CommandReply:
    """`many`: installed in many workspaces, the request names the one it came from."""
    request = CommandRequest(
        user_id=str(command.get("user_id") or ""),
        channel_id=str(command.get("channel_id") or ""),
        text=str(command.get("text") or ""),
        user_name=str(command.get("user_name") or ""),
        team_id=scope_team(command.get("team_id"), command.get("enterprise_id")) if many else "",
        enterprise_id=str(command.get("enterprise_id") or "") if many else "",
    )
    try:
        reply = handler(request)
    except Exception:
        # The user gets a sentence; the trace goes to the operator's log.
        log.exception("/brief from %s in %s failed", request.user_id, request.channel_id)
        reply = CommandReply(messages=[SlackMessage(text=APOLOGY)])
    _send_reply(respond, reply)
    return reply


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


def startup_error(
    error: BaseException | None, secrets: SlackSecrets, setting: str, what: str
) -> SlackStartupError:
    """The start-up failure `error` (refused `setting`, unreachable Slack), secrets scrubbed."""
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else None
        if code in _TOKEN_ERRORS:
            return SlackStartupError(f"Slack refused the {what} ({code}): check {setting}")
        status = error.response.status_code if error.response is not None else "?"
        return SlackStartupError(
            f"Slack at {redact_url(secrets.api_url)} answered the {what} check with "
            f"{code or f'HTTP {status}'}; try again later or check SLACK_API_URL"
        )
    reason = scrub(str(error), secrets) if error is not None else "unknown error"
    return SlackStartupError(
        f"cannot reach Slack at {redact_url(secrets.api_url)} to check the {what}: {reason}"
    )


def scrub(text: str, secrets: SlackSecrets) -> str:
    """`text` with every Slack secret in `secrets` replaced by `***`."""
    for secret in (secrets.bot_token, secrets.app_token, secrets.signing_secret):
        if secret:
            text = text.replace(secret, "***")
    return text
