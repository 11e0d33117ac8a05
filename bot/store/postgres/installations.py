"""`PgInstallations`: Slack installations sealed with BRIEFBOT_SECRET_KEY, and OAuth states.

The only module that imports `cryptography`. Each installation document is
sealed whole with Fernet (AES-128-CBC and HMAC-SHA256, a timestamp and a
random IV per value), so tokens, bot ids and the installer's id are all
unreadable without the key; only the workspace ids stay in clear, as the
key of the row.

Not obvious:
- A wrong key must fail at start-up, not at 08:30 when a digest is due:
  `open_vault` unseals the `secret_key_check` row (written by the first start
  with a key) and raises `SecretKeyError` when it does not open. A key that
  is not a Fernet key (32 bytes, url-safe base64) is refused the same way.
- The key never reaches a message: errors name BRIEFBOT_SECRET_KEY only.
- States are consumed by one DELETE ... RETURNING: two replicas given the
  same redirect (a browser's double submit) finish it once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from bot.store.ports import SecretKeyError, StoreError, Workspace
from bot.store.postgres.db import Pooled

__all__ = ["KEY_HINT", "PgInstallations", "open_vault"]

KEY_HINT = (
    "make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())' and keep it with the other secrets"
)
_CHECK_VALUE = b"briefbot secret key check"


def _fernet(secret_key: str | None) -> Fernet:
    key = (secret_key or "").strip()
    if not key:
        raise SecretKeyError(
            "BRIEFBOT_SECRET_KEY is not set: installations' tokens are stored encrypted "
            f"with it; {KEY_HINT}"
        )
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SecretKeyError(
            f"BRIEFBOT_SECRET_KEY is not a key briefbot can use (32 bytes, url-safe base64); "
            f"{KEY_HINT}"
        ) from None


def open_vault(db: Pooled, secret_key: str | None) -> PgInstallations:
    """The installations of the database behind `db`, sealed with `secret_key`.

    Raises SecretKeyError when the key is missing, malformed, or not the one the
    database's installations were sealed with.
    """
    fernet = _fernet(secret_key)
    rows = db.rows("SELECT sealed FROM secret_key_check WHERE id = 1")
    if not rows:
        db.run(
            "INSERT INTO secret_key_check (id, sealed) VALUES (1, %s) ON CONFLICT DO NOTHING",
            (fernet.encrypt(_CHECK_VALUE),),
        )
        rows = db.rows("SELECT sealed FROM secret_key_check WHERE id = 1")
    try:
        opened = fernet.decrypt(bytes(rows[0][0]))
    except InvalidToken:
        opened = b""
    if opened != _CHECK_VALUE:
        raise SecretKeyError(
            "BRIEFBOT_SECRET_KEY is not the key this database's Slack installations were "
            "stored with: set the key used before (the installations cannot be read without it)"
        )
    return PgInstallations(db, fernet)


class PgInstallations:
    """`bot.store.ports.InstallationVault` over the database (see the module docstring)."""

    def __init__(self, db: Pooled, fernet: Fernet) -> None:
        self._db = db
        self._fernet = fernet

    def save(self, workspace: Workspace, document: Mapping[str, Any], *, now: datetime) -> None:
        sealed = self._fernet.encrypt(json.dumps(dict(document), sort_keys=True).encode("utf-8"))
        self._db.run(
            "INSERT INTO slack_installations (enterprise_id, team_id, installed_at, sealed)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (enterprise_id, team_id)"
            " DO UPDATE SET installed_at = EXCLUDED.installed_at, sealed = EXCLUDED.sealed",
            (workspace.enterprise_id, workspace.team_id, now, sealed),
        )

    def find(self, workspace: Workspace) -> dict[str, Any] | None:
        rows = self._db.rows(
            "SELECT sealed FROM slack_installations WHERE enterprise_id = %s AND team_id = %s",
            (workspace.enterprise_id, workspace.team_id),
        )
        if not rows:
            return None
        try:
            document = json.loads(self._fernet.decrypt(bytes(rows[0][0])))
        except (InvalidToken, ValueError):
            raise StoreError(
                f"the installation of workspace {workspace.team_id} cannot be read with "
                "BRIEFBOT_SECRET_KEY"
            ) from None
        return document if isinstance(document, dict) else None

    def delete(self, workspace: Workspace) -> bool:
        count = self._db.run(
            "DELETE FROM slack_installations WHERE enterprise_id = %s AND team_id = %s",
            (workspace.enterprise_id, workspace.team_id),
        )
        return count > 0

    def workspaces(self) -> list[Workspace]:
        rows = self._db.rows(
            "SELECT team_id, enterprise_id FROM slack_installations ORDER BY installed_at"
        )
        return [Workspace(str(team), str(enterprise)) for team, enterprise in rows]

    def issue_state(self, state: str, *, expires_at: datetime) -> None:
        self._db.run(
            "INSERT INTO slack_oauth_states (state, expires_at) VALUES (%s, %s)",
            (state, expires_at),
        )

    def consume_state(self, state: str, *, now: datetime) -> bool:
        self._db.run("DELETE FROM slack_oauth_states WHERE expires_at < %s", (now,))
        rows = self._db.rows(
            "DELETE FROM slack_oauth_states WHERE state = %s AND expires_at >= %s RETURNING 1",
            (state, now),
        )
        return bool(rows)
