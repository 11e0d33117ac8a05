"""slack_sdk's `InstallationStore` and `OAuthStateStore` over briefbot's `InstallationVault`.

Bolt's OAuth flow (`bot.slack.oauth`) saves each workspace's installation here,
and reads its bot token back for every request and for every scheduled post
(`find_bot`). The vault (PostgreSQL, `bot.store.postgres.installations`) keeps
the documents sealed with BRIEFBOT_SECRET_KEY; this module only turns them
into slack_sdk's types and back, so slack_sdk stays in `bot.slack`.

Not obvious:
- One installation per workspace: briefbot asks for bot scopes only (no user
  token), so the newest installation of a workspace replaces the one before,
  and `find_installation` ignores `user_id`.
- Uninstalling (`app_uninstalled`, `tokens_revoked`: Bolt's own listeners
  call `delete_all` / `delete_bot`) deletes the installation and its tokens;
  the workspace's subscriptions and watches are kept (see README: they come
  back if the app is installed again), and its deliveries stop, because
  `find_bot` finds nothing.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore

from bot.store.ports import InstallationVault, Workspace

__all__ = ["NO_TEAM", "VaultInstallationStore", "VaultStateStore", "scope_team"]

log = logging.getLogger(__name__)


#: The team of a request that names none, with many workspaces (see `scope_team`).
NO_TEAM = "T-none"


def scope_team(team_id: object, enterprise_id: object) -> str:
    """The team a request of a bot installed in many workspaces is scoped to, never "".

    "" would mean "one workspace: everything"; a request without a team (an
    org-wide Enterprise Grid install names only its organisation) is scoped to
    the organisation's id, or to NO_TEAM: it then sees feeds.yaml's feeds and
    nothing of any workspace.
    """
    return str(team_id or "") or str(enterprise_id or "") or NO_TEAM


def _workspace(enterprise_id: str | None, team_id: str | None) -> Workspace:
    return Workspace(team_id or "", enterprise_id or "")


class VaultInstallationStore(InstallationStore):
    """Installations by workspace in the vault (sealed at rest)."""

    def __init__(self, vault: InstallationVault) -> None:
        self.vault = vault
        self._logger = log

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    def save(self, installation: Installation) -> None:
        where = _workspace(installation.enterprise_id, installation.team_id)
        document: dict[str, Any] = dict(installation.__dict__)
        self.vault.save(where, document, now=datetime.now(UTC))
        log.info("installed in workspace %s (%s)", where.team_id, installation.team_name or "")

    def save_bot(self, bot: Bot) -> None:  # only called by token rotation, which is not used
        raise NotImplementedError("briefbot stores whole installations")

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        document = self.vault.find(_workspace(enterprise_id, team_id))
        return Installation(**document) if document is not None else None

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = self.find_installation(enterprise_id=enterprise_id, team_id=team_id)
        if installation is None or not installation.bot_token:
            return None
        return installation.to_bot()

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        where = _workspace(enterprise_id, team_id)
        if self.vault.delete(where):
            log.info("uninstalled from workspace %s: its deliveries stop", where.team_id)


class VaultStateStore(OAuthStateStore):
    """OAuth `state` values in the vault: any replica can finish an install another started."""

    def __init__(self, vault: InstallationVault, *, expiration_seconds: int = 600) -> None:
        self.vault = vault
        self.expiration_seconds = expiration_seconds
        self._logger = log

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    def issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=self.expiration_seconds)
        self.vault.issue_state(state, expires_at=expires)
        return state

    def consume(self, state: str) -> bool:
        return self.vault.consume_state(state, now=datetime.now(UTC))
