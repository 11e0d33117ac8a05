"""One `/brief` command being answered: the request, the reply, and what every handler shares.

A `Session` is what each sub-command's handler gets: the runtime, who asked
and where, the Poster (None in the console), and the checks and replies all
handlers use: `require_admin`, `no_args`, `notice`, `now`. `store` is the store as
the caller's workspace sees it (bot/app/workspaces.py). A handler signals a
mistake of the user by raising `CommandError` (the dispatcher answers with
the message and the sub-command's usage line) and a missing permission by
raising `Refused`.

Permissions: admins are the Slack user ids under `admins:` in feeds.yaml
and, with many workspaces, each workspace's Slack admins and owners
(bot/app/admins.py; `bot.models.CommandRequest.is_admin` overrides that for
the local console). Admin only:
`feed ...`, `schedule HH:MM|off`, `subscribe #channel ...`, `subscriptions
all|@user`, and `digest post`. The last one is an admin's because posting moves
the channel's digest cursor: the next scheduled digest then starts after what
was posted, so a member's "post it now" would take items from everyone's
morning digest.

Replies are ephemeral (`CommandReply.in_channel` False): `digest post`
publishes through the Poster, which records the delivery exactly once, and
answers the caller privately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.app.admins import ADMINS_ARE, is_admin
from bot.app.commands.words import Word, joined
from bot.app.runtime import Runtime
from bot.app.workspaces import Scope, scope_of, scoped_store, visible_feeds, workspace_of
from bot.deliver.ports import Poster
from bot.models import CommandRequest, SlackMessage
from bot.render.blocks import pack_messages
from bot.store.ports import Store, Workspace

__all__ = [
    "CommandError",
    "Refused",
    "Session",
    "count",
    "one_id",
    "sentence",
]

# Lines per section of a listing: a section holds at most 3,000 characters.
_SECTION_CHARS = 2800


class CommandError(Exception):
    """A mistake in the command: `message`, then the sub-command's usage line."""

    def __init__(self, message: str, verb: str | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.verb = verb
        self.detail = detail


class Refused(Exception):
    """The caller may not do this (admin only)."""


@dataclass
class Session:
    """One command being answered; `verb` is its sub-command (None for a question)."""

    runtime: Runtime
    request: CommandRequest
    poster: Poster | None
    verb: str | None = None
    # Every workspace's Poster (the caller's is `poster`): alerts a poll raised go to
    # whichever workspace owns them, each with its own token.
    deliveries: Poster | None = None

    @property
    def is_admin(self) -> bool:
        if self.request.is_admin is not None:
            return self.request.is_admin
        return is_admin(self.runtime, self.request.user_id, self.poster, self.workspace)

    @property
    def workspace(self) -> Workspace | None:
        """The caller's workspace; None with one workspace (or in the console)."""
        return workspace_of(self.request)

    @property
    def scope(self) -> Scope:
        """What the caller's workspace sees (bot/app/workspaces.py)."""
        return scope_of(self.runtime, self.request)

    @property
    def store(self) -> Store:
        """The store as the caller's workspace sees it (bot/app/workspaces.py)."""
        return scoped_store(self.runtime.store, workspace_of(self.request))

    @property
    def feeds(self) -> set[str] | None:
        """The feeds the caller's workspace searches; None: every feed (one workspace)."""
        runtime = self.runtime
        return visible_feeds(
            runtime.config.feeds, runtime.store.overrides, workspace_of(self.request)
        )

    def require_admin(self, action: str) -> None:
        """Raise `Refused` unless the caller is an admin; the refusal names the admins."""
        if self.is_admin:
            return
        admins = self.runtime.config.admins
        if self.workspace is not None:
            raise Refused(f"Only admins can {action}: {ADMINS_ARE}")
        if admins:
            raise Refused(f"Only admins can {action}. Admins: {', '.join(admins)}.")
        raise Refused(
            f"Only admins can {action}. No admins are configured: add Slack user ids "
            "under admins: in feeds.yaml."
        )

    def no_args(self, args: Sequence[Word]) -> None:
        """Raise `CommandError` when a sub-command that takes no words got some."""
        if args:
            raise CommandError(
                f"{self.verb} takes no words after it; to search for these, use "
                f"/brief search {self.verb} {joined(args)}",
                self.verb,
            )

    def notice(self, *parts: str) -> list[SlackMessage]:
        """Plain-text notices (escaped by the renderer), long ones in several sections."""
        messages: list[SlackMessage] = []
        for part in parts:
            for chunk in _chunks(part, _SECTION_CHARS):
                messages += self.runtime.renderer.render_notice(chunk)
        return pack_messages(messages)

    def now(self) -> datetime:
        return self.runtime.clock()


def one_id(args: Sequence[Word], verb: str, what: str) -> str:
    """The one id `args` holds, or `CommandError` saying there is none or more than one."""
    if len(args) != 1:
        problem = (
            f"give {what}" if not args else f"give one {what.removeprefix('a ')}, not {len(args)}"
        )
        raise CommandError(problem, verb)
    return args[0].text


def sentence(text: str) -> str:
    """`text` with its first letter capitalised (an error message made a reply)."""
    return text[:1].upper() + text[1:] if text else text


def count(number: int, word: str) -> str:
    """The number and the word, plural unless the number is 1: "1 item", "2 items"."""
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def _chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, split between lines where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces += [current] if current else []
            pieces.append(line[:cut])
            current, line = "", line[cut:].lstrip()
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current or not pieces:
        pieces.append(current)
    return pieces
