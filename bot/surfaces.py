"""Typed requests and replies of Slack's interactive surfaces: the Home tab, buttons, forms.

The Slack layer (`bot.slack.surfaces`) turns Slack's payloads into these and
hands them to a `SurfaceHandler` it was given (in `briefbot run`,
`bot.app.surfaces.Surfaces` bound to the runtime), as `/brief` does with
`CommandRequest` / `CommandReply`; the handler never sees a Slack payload and
the Slack layer never sees the bot's state.

Not obvious:
- A form's values arrive as `values[block_id][action_id]`, already read out of
  Slack's element state as text: a text input's value, a select's or radio
  button's chosen option value, a time picker's HH:MM, a channel picker's id,
  checkboxes' chosen values joined by commas; "" when nothing was given.
- `team_id` / `enterprise_id` name the workspace the request came from when the
  bot is installed in many (OAuth), as `CommandRequest`'s do; "" with one.
- A submission is answered twice: `check` runs before Slack's 3-second ack and
  its `errors` (by block id) or replacement view go back in the ack; `submit`
  runs after the ack and may take its time (the feed form fetches the feed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.models import SlackMessage

__all__ = [
    "ActionReply",
    "ActionRequest",
    "FormValues",
    "HomeRequest",
    "SlackView",
    "SubmissionCheck",
    "SurfaceHandler",
    "ViewSubmission",
]

#: A form's values: block id -> action id -> the value as text ("" when empty).
FormValues = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class SlackView:
    """A Home tab (`kind` "home") or a modal (`kind` "modal"), ready for views.publish/open/update.

    `callback_id` names the form (what `ViewSubmission.callback_id` will say),
    `private_metadata` carries what the form needs back (at most 3,000 characters).
    """

    blocks: tuple[Mapping[str, Any], ...]
    kind: str = "home"
    title: str = ""
    submit: str | None = None
    close: str | None = None
    callback_id: str = ""
    private_metadata: str = ""

    def payload(self) -> dict[str, Any]:
        """The view object as Slack's views.* methods take it."""
        view: dict[str, Any] = {"type": self.kind, "blocks": [dict(b) for b in self.blocks]}
        if self.callback_id:
            view["callback_id"] = self.callback_id
        if self.private_metadata:
            view["private_metadata"] = self.private_metadata
        if self.kind == "modal":
            view["title"] = _plain(self.title or "briefbot")
            if self.submit:
                view["submit"] = _plain(self.submit)
            view["close"] = _plain(self.close or "Cancel")
        return view


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:24], "emoji": True}


@dataclass(frozen=True)
class HomeRequest:
    """Someone opened the app's Home tab (`team_id`: its workspace, with many; else "")."""

    user_id: str
    team_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True)
class ActionRequest:
    """A button pressed (or a form element changed, for a live preview).

    `surface` says where: "message" (then `channel_id` and `message_ts` name the
    message), "home" or "modal" (then `view_id` names the view, `callback_id`
    the form, `values` its current state).
    """

    user_id: str
    action_id: str
    value: str = ""
    surface: str = "message"
    channel_id: str = ""
    message_ts: str = ""
    view_id: str = ""
    callback_id: str = ""
    private_metadata: str = ""
    values: FormValues = field(default_factory=dict)
    user_name: str = ""
    team_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True)
class ActionReply:
    """What to do after an action: any of these, in this order.

    `messages` go to the presser only (ephemeral, in the message's channel);
    `home` is published as their Home tab; `modal` opens (`open_modal`) or
    replaces the modal the action came from (`update_modal`).
    """

    messages: tuple[SlackMessage, ...] = ()
    home: SlackView | None = None
    open_modal: SlackView | None = None
    update_modal: SlackView | None = None


@dataclass(frozen=True)
class ViewSubmission:
    """A form submitted: which one (`callback_id`), by whom, with what values."""

    user_id: str
    callback_id: str
    values: FormValues
    private_metadata: str = ""
    view_id: str = ""
    user_name: str = ""
    team_id: str = ""
    enterprise_id: str = ""


@dataclass(frozen=True)
class SubmissionCheck:
    """The answer in a submission's ack: errors by block id, or a view to show instead.

    Empty: the modal closes (then `submit` does the work). `update`: the modal
    shows this view (e.g. "checking the feed...") and `submit` still runs.
    """

    errors: Mapping[str, str] = field(default_factory=dict)
    update: SlackView | None = None


class SurfaceHandler(Protocol):
    """What answers the Home tab, the buttons and the forms (in `briefbot run`: `Surfaces`)."""

    def home(self, request: HomeRequest) -> SlackView:
        """The Home tab for this user."""
        ...

    def action(self, request: ActionRequest) -> ActionReply:
        """A button pressed; runs after the ack."""
        ...

    def check(self, submission: ViewSubmission) -> SubmissionCheck:
        """Validate a form before the ack (fast: no network, no store write)."""
        ...

    def submit(self, submission: ViewSubmission) -> ActionReply:
        """Do what a valid form asked; runs after the ack. `update_modal` updates its view."""
        ...
