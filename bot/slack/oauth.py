"""A distributed app: installed in many workspaces through Slack's OAuth (HTTP mode only).

`oauth_app` builds the Bolt app `briefbot run` serves when SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET are set: `GET /slack/install` answers with the "Add to
Slack" link (and a state cookie), `GET /slack/oauth_redirect` exchanges the
code with `oauth.v2.access` and saves the installation; every request is then
answered with its workspace's bot token. `WorkspaceDeliverers` is the
`Poster` of scheduled posts: `for_workspace` gives a `Deliverer` with that
workspace's token (`bot.deliver.ports.poster_for`).

Not obvious:
- Bolt calls auth.test for every request to learn the bot's ids unless its
  authorizer caches (`InstallationStoreAuthorize(cache_enabled=True)`): the
  cache is per process and forgets nothing, so a revoked token answers
  commands until a restart; Slack sends no commands to an uninstalled app.
- The OAuth flow's client is Bolt's (aimed at SLACK_API_URL, no token):
  `oauth.v2.access` authenticates with the client id and secret.
- Deliveries look the token up again for every post (`find_bot`), never
  cached: after an uninstall the next post is refused, not retried
  ("briefbot is not installed in workspace T...").
- A token-shaped value never reaches a log (bot.slack.client hides tokens in
  slack_sdk's response lines, which would print oauth.v2.access's body).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings

from bot.config.model import SlackSecrets
from bot.deliver.ports import DeliveryError, DeliveryResult, FileUpload, Poster
from bot.models import SlackMessage
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.installations import VaultInstallationStore, VaultStateStore
from bot.store.ports import InstallationVault

__all__ = ["BOT_SCOPES", "NotInstalled", "WorkspaceDeliverers", "oauth_app"]

log = logging.getLogger(__name__)

#: The bot scopes asked for at install: the manifest's (deploy/slack-app-manifest.yaml).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
    "assistant:write",
    "files:write",
    "users:read",
    "channels:read",
    "groups:read",
)
# How long an install link's state is honoured.
STATE_SECONDS = 600

_App = TypeVar("_App")


def oauth_app(secrets: SlackSecrets, vault: InstallationVault, app_class: type[_App]) -> _App:
    """The Bolt app (of `app_class`, a BriefbotApp) answering every installed workspace."""
    client = make_web_client(secrets, tokenless=True)
    store = VaultInstallationStore(vault)
    settings = OAuthSettings(
        client_id=secrets.client_id,
        client_secret=secrets.client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=VaultStateStore(vault, expiration_seconds=STATE_SECONDS),
        state_expiration_seconds=STATE_SECONDS,
    )
    authorize = InstallationStoreAuthorize(
        installation_store=store,
        client_id=secrets.client_id,
        client_secret=secrets.client_secret,
        bot_only=True,
        cache_enabled=True,
        client=client,
        logger=log,
    )
    return app_class(  # type: ignore[call-arg]
        name="briefbot",
        client=client,
        signing_secret=secrets.signing_secret or "",
        oauth_settings=settings,
        installation_store=store,
        installation_store_bot_only=True,
        authorize=authorize,
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=2, thread_name_prefix="briefbot-slack"),
    )


class NotInstalled(Poster):
    """The Poster of a workspace briefbot is not installed in: every post fails, for good."""

    def __init__(self, team_id: str) -> None:
        self.error = (
            f"briefbot is not installed in workspace {team_id} (uninstalled, or its token "
            "was revoked): nothing is posted there until it is installed again"
        )

    def post(
        self,
        channel: str,
        messages: Sequence[SlackMessage],
        *,
        metadata: Mapping[str, Any] | None = None,
        resume: DeliveryResult | None = None,
    ) -> DeliveryResult:
        return DeliveryResult(ok=False, retryable=False, error=self.error)

    def upload_file(self, channel: str, upload: FileUpload) -> DeliveryResult:
        return DeliveryResult(ok=False, retryable=False, error=self.error)

    def open_dm(self, user_id: str) -> str:
        raise DeliveryError(self.error, retryable=False)

    def already_delivered(self, channel: str, key: str, since_ts: str | float) -> bool:
        return False  # nothing of it can be read: it stays undelivered

    def find_posted(self, channel: str, key: str, since_ts: str | float) -> DeliveryResult | None:
        return None

    def user_timezone(self, user_id: str) -> str | None:
        return None

    def channels_named(self, name: str) -> list[str]:
        raise DeliveryError(self.error, retryable=False)


class WorkspaceDeliverers(Deliverer):
    """Deliverers by workspace, each with that workspace's bot token, looked up per post.

    As a `Poster` itself it posts for the workspace of feeds.yaml's digests and
    notices: the one SLACK_BOT_TOKEN names, when set beside the OAuth settings.
    """

    def __init__(self, secrets: SlackSecrets, vault: InstallationVault, **options: Any) -> None:
        super().__init__(make_web_client(secrets, tokenless=not secrets.bot_token), **options)
        self._secrets = secrets
        self._store = VaultInstallationStore(vault)
        self._options = options
        self._by_token: dict[str, Deliverer] = {}

    def for_workspace(self, team_id: str, enterprise_id: str = "") -> Poster:
        bot = self._store.find_bot(enterprise_id=enterprise_id or None, team_id=team_id)
        if bot is None:
            return NotInstalled(team_id)
        token = bot.bot_token
        found = self._by_token.get(token)
        if found is None:
            client = make_web_client(dataclasses.replace(self._secrets, bot_token=token))
            found = self._by_token[token] = Deliverer(client, **self._options)
        return found
