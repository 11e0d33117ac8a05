"""`briefbot run`: the long-running service, from start-up checks to a clean shutdown.

Start-up, in order: check that the Slack settings it needs are set (the bot
token; the signing secret in HTTP mode; with many workspaces, the OAuth
settings of bot/app/oauth.py: exit 2 naming the setting); open the
data directory (one process at a time: exit 3 when another holds it; on
PostgreSQL any number of replicas share the database and join its
coordination, bot/app/replicas.py); apply
the changes made from Slack to feeds.yaml's configuration; check the bot
token with `auth.test` (exit 1 with a sentence saying what to fix); start the
Slack app (bot/slack/start.py; exit 1 when it cannot start, before any work
is done); send once each digest missed while
the bot was down; start the scheduler (bot/app/scheduler/); log what is active
(feeds, channels, next run times; never a token).

Shutdown on SIGTERM or SIGINT (or when `stop` is set): stop taking Slack
requests, let running jobs finish (a poll in progress commits its items),
then close the store, which commits. A second signal while that runs gets
the default behaviour (SIGINT: KeyboardInterrupt; SIGTERM: the process
ends), for an operator who cannot wait; the store stays consistent either way
(see store.py).

Exit status: 0 after a clean shutdown, 1 when the service could not start
(Slack refused the token or is unreachable, the Slack app failed), 2 when a
setting is missing (the systemd unit does not restart on it), 3 when the data
directory is in use.

This module does not import slack_sdk (the Slack layer in bot/slack/ does):
Slack's errors are told apart by their `response` attribute.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, cast

from bot.app.commands.dispatch import handle_command
from bot.app.health import Connection, Heartbeats, SlackWatch
from bot.app.oauth import oauth_setting_problem, open_installations
from bot.app.questions import handle_question, use_language_model
from bot.app.replicas import join
from bot.app.runtime import Runtime
from bot.app.scheduler.jobs import DEFAULT_FAILURE_NOTICE_HOURS, BotScheduler
from bot.app.surfaces import Surfaces
from bot.config.model import Config
from bot.config.redact import redact_url
from bot.render.renderer import Renderer
from bot.slack.client import SlackClientConfigError, make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.errors import describe_slack_error
from bot.slack.oauth import WorkspaceDeliverers
from bot.slack.start import SlackHandle, start_slack
from bot.store.ports import InstallationVault, SecretKeyError, StoreError, StoreLockedError

__all__ = [
    "EXIT_FAILED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_USAGE",
    "INVALID_AUTH_MESSAGE",
    "run_service",
]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3

INVALID_AUTH_MESSAGE = "Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN"
# How often the main thread looks at `stop` (a signal also wakes it at once).
_WAIT_STEP = 1.0


class _StartupError(Exception):
    """The service cannot start; the message says why and what to do."""


def run_service(
    config: Config,
    *,
    port: int = 3000,
    host: str = "127.0.0.1",
    stop: threading.Event | None = None,
    install_signal_handlers: bool = True,
) -> int:
    """Run the bot until SIGTERM/SIGINT (or `stop` is set); return the exit status.

    `port` is the HTTP-mode port (0: any free one) and `host` the address it
    listens on; Socket Mode ignores both. A Slack setting that is missing
    (the bot token; the signing secret in HTTP mode) is a configuration error:
    exit status 2, before anything is opened.
    `install_signal_handlers=False` leaves signals alone (the caller sets
    `stop`); handlers can only be installed from the main thread.
    """
    stop = stop if stop is not None else threading.Event()
    _quiet_library_logs()
    missing = oauth_setting_problem(config) or _missing_slack_setting(config)
    if missing:
        log.error("cannot start: %s", missing)
        return EXIT_USAGE
    oauth = config.slack.oauth
    template_problems = Renderer(config.settings.templates_dir).check()
    if template_problems:
        # Found now, not at 08:30 tomorrow when the digest would be rendered.
        for problem in template_problems:
            log.error("cannot start: template problem: %s", problem)
        return EXIT_FAILED
    try:
        runtime = Runtime.open(config)
    except StoreLockedError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_LOCKED
    except StoreError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILED
    try:
        vault = open_installations(runtime.store, config.slack.secret_key) if oauth else None
        coordination = join(runtime)
    except (SecretKeyError, StoreError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        runtime.close()
        return EXIT_USAGE if isinstance(exc, SecretKeyError) else EXIT_FAILED
    try:
        return _serve(runtime, config, (host, port), stop, install_signal_handlers, vault)
    except _StartupError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILED
    finally:
        coordination.close()
        runtime.close()
        log.info("store closed")


def _missing_slack_setting(config: Config) -> str | None:
    """What `briefbot run` cannot start without, as a sentence naming the setting; or None."""
    if config.slack.oauth:
        return None  # bot/app/oauth.py checked them; the bot token is optional
    if not (config.slack.bot_token or "").strip():
        return "SLACK_BOT_TOKEN is not set: the bot needs its xoxb- token to call Slack"
    if not config.slack.socket_mode and not config.slack.signing_secret:
        return "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN to use Socket Mode)"
    return None


def _serve(
    runtime: Runtime,
    config: Config,
    address: tuple[str, int],
    stop: threading.Event,
    handle_signals: bool,
    vault: InstallationVault | None = None,
) -> int:
    # Feeds and schedules changed from Slack before this start (bot/config/overrides.py).
    runtime.refresh_config()
    use_language_model(runtime)
    poster = _poster(config, vault)
    notice_hours = runtime.config.settings.failure_notice_seconds / 3600
    scheduler = BotScheduler(
        runtime, poster, failure_notice_hours=notice_hours or DEFAULT_FAILURE_NOTICE_HOURS
    )
    watch = SlackWatch(
        socket_mode=config.slack.socket_mode,
        # Many workspaces and no token of its own: api.test says whether Slack answers.
        auth_test=poster.client.auth_test if config.slack.bot_token else poster.client.api_test,
        monotonic=time.monotonic,
    )
    mode = "socket" if config.slack.socket_mode else "http"
    heartbeats = Heartbeats(
        runtime.store,
        runtime.config,
        mode,
        watch,
        runtime.clock,
        replica=runtime.coordination.replica,
        leading=runtime.coordination.is_leader,
    )
    previous = _install_signal_handlers(stop) if handle_signals else {}
    slack: SlackHandle | None = None
    try:
        # The Slack app first: a setting it lacks stops the start before any work is done.
        slack = _start_slack(runtime, config, address, poster, heartbeats.healthz, vault)
        watch.connection = slack if isinstance(slack, Connection) else None
        _catch_up_digests(runtime, poster)
        scheduler.start()
        _log_startup(config, scheduler, slack, address[1])
        while not stop.wait(_WAIT_STEP):
            _beat(heartbeats)
        log.info("stopping: finishing running jobs")
    finally:
        _restore_signal_handlers(previous)
        if slack is not None:
            try:
                slack.stop()
            except Exception:
                log.exception("stopping the Slack app failed")
        scheduler.shutdown(wait=True)
    log.info("stopped cleanly")
    return EXIT_OK


def _poster(config: Config, vault: InstallationVault | None) -> Deliverer:
    """The Poster of scheduled posts: one workspace's, or each installed workspace's."""
    if vault is None:
        return Deliverer(_connect_slack(config))
    if config.slack.bot_token:
        _connect_slack(config)  # the token of feeds.yaml's workspace is checked as usual
    return WorkspaceDeliverers(config.slack, vault)


def _catch_up_digests(runtime: Runtime, poster: Deliverer) -> None:
    try:
        for outcome in runtime.catch_up_digests(poster):
            log.info("missed digest for %s: %s", outcome.channel, outcome.status)
    except Exception:  # the scheduled digests still run; say what went wrong
        log.exception("catching up missed digests failed")


def _connect_slack(config: Config) -> Any:
    """A Web API client whose token Slack accepted (auth.test); _StartupError if not."""
    try:
        client = make_web_client(config.slack)
    except SlackClientConfigError as exc:
        raise _StartupError(str(exc)) from None
    where = redact_url(config.slack.api_url)
    try:
        identity = client.auth_test()
    except Exception as exc:
        response = getattr(exc, "response", None)
        if response is None:  # no answer at all: refused, DNS, timeout
            raise _StartupError(
                f"cannot reach Slack at {where}: {exc}; check the network and SLACK_API_URL"
            ) from None
        data = getattr(response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if code == "invalid_auth":
            raise _StartupError(INVALID_AUTH_MESSAGE) from None
        # A SlackApiError (it has a response); typed loosely, see the module docstring.
        message, _ = describe_slack_error(
            "Slack refused auth.test for", "the bot token", cast(Any, exc)
        )
        raise _StartupError(message) from None
    log.info(
        "connected to Slack at %s: workspace %s, bot user %s",
        where,
        identity.get("team") or identity.get("team_id"),
        identity.get("user_id"),
    )
    return client


def _beat(heartbeats: Heartbeats) -> None:
    try:
        heartbeats.beat_if_due(time.monotonic())
    except Exception as exc:  # a full disk must not stop the service; health shows it stale
        log.warning("cannot write the heartbeat: %s", exc)


def _start_slack(
    runtime: Runtime,
    config: Config,
    address: tuple[str, int],
    poster: Deliverer,
    health: Callable[[], tuple[bool, str]],
    vault: InstallationVault | None = None,
) -> SlackHandle:
    host, port = address
    try:
        handler = functools.partial(handle_command, runtime, poster=poster)
        surfaces = Surfaces(runtime, poster)
        questions = functools.partial(handle_question, runtime)
        return start_slack(
            config.slack,
            handler,
            port=port,
            host=host,
            health=health,
            surfaces=surfaces,
            questions=questions,
            installations=vault,
            first_sight=runtime.coordination.first_sight,
        )
    except Exception as exc:  # SlackStartupError, or the port is taken (OSError)
        raise _StartupError(f"the Slack app did not start: {exc}") from exc


def _log_startup(config: Config, scheduler: BotScheduler, slack: SlackHandle, port: int) -> None:
    if config.slack.socket_mode:
        mode = "Slack Socket Mode"
    else:
        mode = f"Slack HTTP mode on port {getattr(slack, 'port', port)}, path /slack/events"
        if config.slack.oauth:
            mode += "; many workspaces: install at /slack/install"
    log.info("briefbot running (%s; config %s)", mode, config.path)
    for line in scheduler.describe():
        log.info("  %s", line)


# --------------------------------------------------------------------------- signals

_Handler = Any  # what signal.signal returns: a callable, an int, or None


def _install_signal_handlers(stop: threading.Event) -> dict[signal.Signals, _Handler]:
    if threading.current_thread() is not threading.main_thread():
        log.warning("not on the main thread: SIGTERM/SIGINT handlers not installed")
        return {}
    previous: dict[signal.Signals, _Handler] = {}

    def on_signal(number: int, frame: FrameType | None) -> None:
        log.info("%s received: shutting down", signal.Signals(number).name)
        stop.set()
        # A second signal gets the old behaviour (see the module docstring).
        _restore_signal_handlers(previous)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, on_signal)
    return previous


def _restore_signal_handlers(previous: dict[signal.Signals, _Handler]) -> None:
    for sig, handler in list(previous.items()):
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        del previous[sig]


def _quiet_library_logs() -> None:
    # APScheduler logs every job run at INFO ("Running job ..."), every minute;
    # httpx every request of the language model's client (redacted: bot/config/redact.py).
    # The bot logs what matters of both itself. A level set before is kept.
    # (slack_sdk's per-attempt lines are filtered in bot/slack/client.py.)
    for name in ("apscheduler", "httpx"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
