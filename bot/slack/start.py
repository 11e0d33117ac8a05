"""Starting the Slack side the way `briefbot run` does.

Socket Mode when `SLACK_APP_TOKEN` is set (no public URL needed), else HTTP
mode on `/slack/events` (needs `SLACK_SIGNING_SECRET`). Installed in many
workspaces (OAuth: bot/slack/oauth.py), HTTP mode only, with the install pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bot.config.model import SlackSecrets
from bot.slack.app import STOP_GRACE, CommandHandler, SlackStartupError, build_app
from bot.slack.http import HealthCheck, serve_http
from bot.slack.questions import QuestionHandler
from bot.slack.socketmode import serve_socket_mode
from bot.store.ports import InstallationVault
from bot.surfaces import SurfaceHandler

__all__ = ["SlackHandle", "start_slack"]


class SlackHandle(Protocol):
    """A running transport: `stop()` ends it and lets in-flight replies finish."""

    def stop(self, timeout: float = STOP_GRACE) -> None: ...


def start_slack(
    secrets: SlackSecrets,
    handler: CommandHandler,
    *,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104
    health: HealthCheck | None = None,
    surfaces: SurfaceHandler | None = None,
    questions: QuestionHandler | None = None,
    installations: InstallationVault | None = None,
    first_sight: Callable[[str], bool] | None = None,
) -> SlackHandle:
    """Socket Mode when an app-level token is set, else HTTP mode on `port` (where
    `health` answers /healthz); `surfaces` answers the Home tab, buttons and forms,
    `questions` DMs and the assistant panel; `first_sight` drops a Slack retry another
    replica took (bot.slack.app). With `installations` (many workspaces,
    bot/slack/oauth.py) HTTP mode also serves /slack/install and /slack/oauth_redirect."""
    if installations is not None:
        if secrets.app_token:
            raise SlackStartupError(
                "Socket Mode cannot serve many workspaces: unset SLACK_APP_TOKEN (HTTP mode)"
            )
        if not secrets.signing_secret:
            raise SlackStartupError("HTTP mode needs SLACK_SIGNING_SECRET")
        app = build_app(
            secrets,
            handler,
            surfaces=surfaces,
            questions=questions,
            installations=installations,
            first_sight=first_sight,
        )
        return serve_http(app, port=port, host=host, health=health)
    if secrets.app_token:
        app = build_app(
            secrets, handler, surfaces=surfaces, questions=questions, first_sight=first_sight
        )
        return serve_socket_mode(app, secrets.app_token)
    if not secrets.signing_secret:
        raise SlackStartupError(
            "HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    app = build_app(
        secrets, handler, surfaces=surfaces, questions=questions, first_sight=first_sight
    )
    return serve_http(app, port=port, host=host, health=health)
