"""What delivery needs from a chat platform (`Poster`), and what a post comes back as.

`bot.slack.deliver.Deliverer` implements `Poster` over Slack's Web API; tests
drive it against a fake Slack on loopback. A `Poster` never raises for a Slack
or network failure from `post` or `upload_file`: the outcome is in the
`DeliveryResult`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.models import SlackMessage

__all__ = [
    "DeliveryError",
    "DeliveryResult",
    "FileUpload",
    "Poster",
    "WorkspaceAdmins",
    "WorkspacePosters",
    "poster_for",
]


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one batch. `ts` is the first message's (the thread parent).

    `posted` counts the leading messages Slack accepted; `retryable` says
    whether trying later can help (an outage) or not (the bot is not in the
    channel); `error` is a sentence naming the destination and the fix.
    """

    ok: bool
    retryable: bool = False
    error: str | None = None
    ts: str | None = None
    posted: int = 0
    timestamps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A file to share in a channel (a chart): its bytes, name, title and the message with it.

    `comment` is plain text shown above the file; `alt_text` describes an
    image for screen readers; `thread_ts` puts the file in that thread.
    """

    content: bytes
    filename: str
    title: str
    comment: str = ""
    alt_text: str = ""
    thread_ts: str | None = None


class DeliveryError(Exception):
    """A lookup or DM open failed; `retryable` says whether trying later can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Poster(Protocol):
    """Posts message batches and answers "did this already arrive?" after a crash."""

    def post(
        self,
        channel: str,
        messages: Sequence[SlackMessage],
        *,
        metadata: Mapping[str, Any] | None = None,
        resume: DeliveryResult | None = None,
    ) -> DeliveryResult:
        """Post in order (in_thread ones into the first's thread); `resume` an earlier part."""
        ...

    def upload_file(self, channel: str, upload: FileUpload) -> DeliveryResult:
        """Share a file in `channel`; `posted` is 1 once the platform accepted it."""
        ...

    def open_dm(self, user_id: str) -> str:
        """The direct-message channel with `user_id`; raises DeliveryError."""
        ...

    def already_delivered(self, channel: str, key: str, since_ts: str | float) -> bool:
        """Whether a batch posted with metadata `key` is in `channel`; raises DeliveryError."""
        ...

    def find_posted(self, channel: str, key: str, since_ts: str | float) -> DeliveryResult | None:
        """How much of a batch with `key` arrived (`posted`, `ts`), or None.

        Raises DeliveryError when the platform cannot be asked.
        """
        ...

    def user_timezone(self, user_id: str) -> str | None:
        """The user's time zone as the platform knows it (an IANA name), or None."""
        ...

    def channels_named(self, name: str) -> list[str]:
        """The ids of the channels called `name` (no leading #) that the bot can see.

        Raises DeliveryError when the platform cannot be asked.
        """
        ...


@runtime_checkable
class WorkspacePosters(Protocol):
    """A Poster for a bot installed in many workspaces: each posts with its own bot token.

    `bot.slack.workspaces.WorkspaceDeliverers` implements it (and `Poster`, for the
    workspace of feeds.yaml's digests and notices). A workspace that uninstalled the
    bot gets a Poster whose every post fails, not retryable.
    """

    def for_workspace(self, team_id: str, enterprise_id: str = "") -> Poster: ...


def poster_for(poster: Poster, team_id: str, enterprise_id: str = "") -> Poster:
    """The Poster for a workspace's deliveries: `poster` itself with one workspace ("")."""
    if team_id and isinstance(poster, WorkspacePosters):
        return poster.for_workspace(team_id, enterprise_id)
    return poster


@runtime_checkable
class WorkspaceAdmins(Protocol):
    """A Poster of one workspace that can tell its admins (many workspaces: bot/app/admins.py)."""

    def is_workspace_admin(self, user_id: str) -> bool:
        """Whether the platform says `user_id` administers or owns the workspace; False when
        it cannot be asked."""
        ...
