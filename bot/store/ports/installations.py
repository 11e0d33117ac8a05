"""Slack installations of a distributed app (one per workspace) and the OAuth states in flight.

Kept only by the PostgreSQL backend (`bot.store.postgres.installations`): many
workspaces means HTTP mode behind a load balancer, where any replica may get
the OAuth redirect. An installation is slack_sdk's own document (a JSON
object; `bot.slack.installations` turns it back into slack_sdk's types): the
backend stores it sealed with BRIEFBOT_SECRET_KEY, never as plain text, so
tokens are unreadable to whoever reads the database or its backups.
Workspaces are keyed by (enterprise id, team id), "" for an absent one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["InstallationVault", "SecretKeyError", "Workspace"]


class SecretKeyError(Exception):
    """BRIEFBOT_SECRET_KEY is missing, malformed, or not the key the tokens were sealed with."""


@dataclass(frozen=True, slots=True, order=True)
class Workspace:
    """A Slack workspace (team), and its Enterprise Grid organisation ("" when none)."""

    team_id: str
    enterprise_id: str = ""


class InstallationVault(Protocol):
    """Installations by workspace (sealed at rest) and one-time OAuth states."""

    def save(self, workspace: Workspace, document: Mapping[str, Any], *, now: datetime) -> None:
        """Store (or replace) the workspace's installation."""
        ...

    def find(self, workspace: Workspace) -> dict[str, Any] | None:
        """The workspace's installation document, or None (never installed, or uninstalled)."""
        ...

    def delete(self, workspace: Workspace) -> bool:
        """Forget the workspace's installation (its tokens); True when there was one."""
        ...

    def workspaces(self) -> list[Workspace]:
        """Every installed workspace."""
        ...

    def issue_state(self, state: str, *, expires_at: datetime) -> None:
        """Remember an OAuth `state` handed to a browser, until `expires_at`."""
        ...

    def consume_state(self, state: str, *, now: datetime) -> bool:
        """True once for a state issued and not expired (it is then gone)."""
        ...
