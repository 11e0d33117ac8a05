"""`briefbot run` for many workspaces: the settings Slack's OAuth needs, checked before start.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set the bot is a distributed
app: HTTP mode only (Slack does not allow Socket Mode for apps distributed to
other workspaces), its installations and OAuth states in PostgreSQL
(BRIEFBOT_DATABASE_URL: any replica can finish an install another began),
sealed with BRIEFBOT_SECRET_KEY. Each missing or conflicting setting is a
sentence naming it, given before anything is opened (exit status 2); a key
that is malformed or not the one the installations were sealed with is
found when the store opens (`open_vault`), also before any work is done.

SLACK_BOT_TOKEN may be set as well: it is then the token of the workspace
feeds.yaml's digests and ops notices go to (its checks are as with one
workspace). Without it those have no workspace to go to and fail, logged.
"""

from __future__ import annotations

from bot.config.model import Config
from bot.store.ports import InstallationVault, SecretKeyError, Store, StoreError
from bot.store.postgres.db import Pooled
from bot.store.postgres.installations import open_vault
from bot.store.postgres.store import PgStore

__all__ = ["oauth_setting_problem", "open_installations"]


def oauth_setting_problem(config: Config) -> str | None:
    """What a distributed bot lacks or must not have, as a sentence; None when all is set."""
    slack = config.slack
    if not (slack.client_id or slack.client_secret):
        return None
    if not slack.oauth:
        return "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together: set both, or neither"
    if slack.app_token:
        return (
            "SLACK_APP_TOKEN is set with SLACK_CLIENT_ID: Slack does not allow Socket Mode "
            "for an app installed in many workspaces; unset SLACK_APP_TOKEN (HTTP mode)"
        )
    if not slack.signing_secret:
        return "HTTP mode needs SLACK_SIGNING_SECRET (many workspaces: SLACK_CLIENT_ID is set)"
    if not config.settings.database_url:
        return (
            "many workspaces (SLACK_CLIENT_ID is set) need PostgreSQL: set "
            "BRIEFBOT_DATABASE_URL; installations and OAuth states are kept there"
        )
    if not slack.secret_key:
        return (
            "BRIEFBOT_SECRET_KEY is not set: many workspaces' tokens are stored encrypted "
            "with it (see README, Many workspaces)"
        )
    return None


def open_installations(store: Store, secret_key: str | None) -> InstallationVault:
    """The installations kept beside `store` (PostgreSQL only), unsealed with `secret_key`.

    Raises SecretKeyError (a wrong or malformed key) or StoreError.
    """
    if not isinstance(store, PgStore):
        raise StoreError("many workspaces need PostgreSQL: set BRIEFBOT_DATABASE_URL")
    try:
        return open_vault(Pooled(store.pool), secret_key)
    except SecretKeyError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot read the Slack installations: {type(exc).__name__}") from None
