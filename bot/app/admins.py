"""Who may change feeds, schedules and other people's subscriptions: briefbot's admins.

One workspace (a bot token in the environment, or the console): the Slack
user ids under `admins:` in feeds.yaml (the console's request says so itself,
`CommandRequest.is_admin`).

Many workspaces (OAuth): an admin of a workspace is one of that workspace's
Slack admins or owners, as Slack says (users.info `is_admin`, `is_owner`,
`is_primary_owner`, asked with that workspace's bot token: scope users:read),
or one of the ids under `admins:` (the operator's own people). Whoever it is,
an admin acts only on the workspace the request came from: its feeds, its
digest schedules, its subscriptions (bot/app/workspaces.py), so an admin of
workspace A cannot change anything of workspace B.

Not obvious:
- The answer is kept for `ADMIN_TTL` seconds by the Slack layer
  (bot/slack/deliver.py), so a check costs one users.info per user and
  workspace every few minutes; a demotion takes effect within that time.
- Slack unreachable, or the scope missing: not an admin (refused, never
  granted), and the refusal says who admins are.
"""

from __future__ import annotations

from bot.app.runtime import Runtime
from bot.deliver.ports import Poster, WorkspaceAdmins
from bot.store.ports import Workspace

__all__ = ["ADMINS_ARE", "is_admin"]

#: Who the admins are, as refusals say it.
ADMINS_ARE = (
    "the admins are the Slack user ids under admins: in feeds.yaml and, with the bot "
    "installed in many workspaces, each workspace's Slack admins and owners."
)


def is_admin(
    runtime: Runtime, user_id: str, poster: Poster | None, workspace: Workspace | None
) -> bool:
    """Whether `user_id` is an admin in `workspace` (None: one workspace); `poster` is that
    workspace's (it asks Slack)."""
    if user_id in runtime.config.admins:
        return True
    admins: object = poster
    if workspace is None or not isinstance(admins, WorkspaceAdmins):
        return False
    return admins.is_workspace_admin(user_id)
