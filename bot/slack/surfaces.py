"""The Bolt listeners of the Home tab, the buttons and the forms: payloads in, typed requests out.

`add_surfaces(app, handler)` registers them on the app `build_app` made:
`app_home_opened` publishes the Home tab (views.publish), every
`block_actions` becomes an `ActionRequest`, every `view_submission` a
`ViewSubmission`, each handed to the `SurfaceHandler` (bot/surfaces.py); its
`ActionReply` is carried out here (ephemeral replies through the
`response_url`, views.publish, views.open, views.update).

Not obvious:
- The 3-second rule holds here too: the ack functions only ack (a submission's
  ack also carries `handler.check`'s errors, which must be fast), the work runs
  in Bolt lazy listeners on the app's pool. views.open needs the payload's
  `trigger_id` within 3 s of the press: opening a form is the first thing its
  lazy listener does.
- A button pressed twice does the thing once: a press is dropped when the same
  user pressed the same button (action id and value) on the same message
  (its ts) or the same version of a view (its hash) within `PRESS_TTL`
  seconds. Presses that change state are idempotent in the handler as well
  (muting a muted subscription changes nothing; removing a removed one says so).
- Installed in many workspaces (OAuth), each request names its workspace
  (Bolt's context: the team the authorizer found the token for), and the
  `client` Bolt hands the listener holds that workspace's bot token: views
  are published with it.
- views.update sends the `hash` of the view the action came from, so an update
  computed from an older state never overwrites a newer one (Slack answers
  `hash_conflict`, logged and dropped).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from slack_bolt import BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.models import SlackMessage
from bot.slack.app import APOLOGY, BriefbotApp, SeenRequests
from bot.slack.installations import scope_team
from bot.surfaces import (
    ActionReply,
    ActionRequest,
    FormValues,
    HomeRequest,
    SubmissionCheck,
    SurfaceHandler,
    ViewSubmission,
)

__all__ = ["PRESS_TTL", "add_surfaces", "form_values"]

log = logging.getLogger(__name__)

# A second press of the same button within this many seconds is a double click.
PRESS_TTL = 10.0
_ANY = re.compile(r".+")


def add_surfaces(app: BriefbotApp, handler: SurfaceHandler) -> None:
    """Answer the Home tab, every button and every form of `app` with `handler`."""
    presses = SeenRequests(ttl=PRESS_TTL)

    def acknowledge(ack: Callable[..., None]) -> None:
        ack()

    def publish_home(event: Mapping[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab was opened: nothing to publish
        user = str(event.get("user") or "")
        with app.work.track():
            try:
                view = handler.home(_in_workspace(app, HomeRequest(user_id=user), context))
            except Exception:
                log.exception("building the Home tab of %s failed", user)
                return
            _call(client.views_publish, "views.publish", user_id=user, view=view.payload())

    def press(
        body: Mapping[str, Any], client: WebClient, respond: Respond, context: BoltContext
    ) -> None:
        request = _in_workspace(app, _action_request(body), context)
        key = ":".join((request.user_id, request.action_id, request.value, _container(body)))
        if not presses.first_sight(key):
            log.info("dropped a repeated press of %s by %s", request.action_id, request.user_id)
            return
        with app.work.track():
            try:
                reply = handler.action(request)
            except Exception:
                log.exception("the button %s of %s failed", request.action_id, request.user_id)
                reply = ActionReply(messages=(SlackMessage(text=APOLOGY),))
            _carry_out(reply, body, client, respond, request.user_id)

    app.event("app_home_opened")(ack=acknowledge, lazy=[publish_home])
    app.action(_ANY)(ack=acknowledge, lazy=[press])
    _add_forms(app, handler)


def _add_forms(app: BriefbotApp, handler: SurfaceHandler) -> None:
    """Answer every form submitted: checked in the ack, done after it."""

    def check(ack: Callable[..., None], body: Mapping[str, Any], context: BoltContext) -> None:
        submission = _in_workspace(app, _submission(body), context)
        try:
            verdict = handler.check(submission)
        except Exception:
            log.exception(
                "checking the form %s of %s failed", submission.callback_id, submission.user_id
            )
            verdict = SubmissionCheck()
        if verdict.errors:
            ack(response_action="errors", errors=dict(verdict.errors))
        elif verdict.update is not None:
            ack(response_action="update", view=verdict.update.payload())
        else:
            ack()

    def submitted(body: Mapping[str, Any], client: WebClient, context: BoltContext) -> None:
        submission = _in_workspace(app, _submission(body), context)
        with app.work.track():
            if handler.check(submission).errors:
                return  # answered in the ack: nothing to do
            try:
                reply = handler.submit(submission)
            except Exception:
                log.exception(
                    "the form %s of %s failed", submission.callback_id, submission.user_id
                )
                return
            # The ack may have replaced the view (a new hash): update it whatever its hash.
            _carry_out(reply, body, client, None, submission.user_id, check_hash=False)

    app.view(_ANY)(ack=check, lazy=[submitted])


def _carry_out(
    reply: ActionReply,
    body: Mapping[str, Any],
    client: WebClient,
    respond: Respond | None,
    user: str,
    *,
    check_hash: bool = True,
) -> None:
    """Do what the handler asked, in order: reply, publish Home, open or update a modal."""
    if reply.open_modal is not None:
        # First: the trigger_id is valid for 3 s after the press.
        trigger = str(body.get("trigger_id") or "")
        _call(client.views_open, "views.open", trigger_id=trigger, view=reply.open_modal.payload())
    if reply.messages:
        if respond is not None and body.get("response_url"):
            _respond(respond, reply.messages)
        else:
            log.info("a reply to %s had nowhere to go (no response_url)", user)
    if reply.home is not None:
        _call(client.views_publish, "views.publish", user_id=user, view=reply.home.payload())
    if reply.update_modal is not None:
        view = body.get("view") or {}
        _call(
            client.views_update,
            "views.update",
            view_id=str(view.get("id") or ""),
            hash=(str(view.get("hash") or "") or None) if check_hash else None,
            view=reply.update_modal.payload(),
        )


def _respond(respond: Respond, messages: tuple[SlackMessage, ...]) -> None:
    for message in messages:
        try:
            answer = respond(
                text=message.text,
                blocks=[dict(block) for block in message.blocks] or None,
                response_type="ephemeral",
                replace_original=False,
                unfurl_links=False,
                unfurl_media=False,
            )
        except Exception as exc:  # the response_url is unreachable: nothing else to try
            log.warning("could not send a reply to a button: %s", exc)
            return
        if answer.status_code != 200:
            log.warning("Slack refused a reply to a button (HTTP %s)", answer.status_code)
            return


def _call(method: Callable[..., Any], name: str, **kwargs: Any) -> None:
    try:
        method(**{k: v for k, v in kwargs.items() if v is not None})
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        log.warning("Slack refused %s: %s", name, code or "an error")
    except (SlackClientError, OSError) as exc:
        log.warning("could not call %s: %s", name, type(exc).__name__)


# --------------------------------------------------------------------------- payloads

_Request = TypeVar("_Request", HomeRequest, ActionRequest, ViewSubmission)


def _in_workspace(app: BriefbotApp, request: _Request, context: BoltContext) -> _Request:
    """The request with its workspace (Bolt's context), when the app serves many."""
    if not app.many_workspaces:
        return request
    team = scope_team(context.team_id, context.enterprise_id)
    return replace(request, team_id=team, enterprise_id=context.enterprise_id or "")


def _action_request(body: Mapping[str, Any]) -> ActionRequest:
    action = body["actions"][0]
    user = body.get("user") or {}
    container = body.get("container") or {}
    view = body.get("view") or {}
    kind = str(container.get("type") or "")
    surface = "message" if kind == "message" else str(view.get("type") or "home")
    channel = body.get("channel") or {}
    message = body.get("message") or {}
    return ActionRequest(
        user_id=str(user.get("id") or ""),
        user_name=str(user.get("username") or user.get("name") or ""),
        action_id=str(action.get("action_id") or ""),
        value=_action_value(action),
        surface=surface,
        channel_id=str(channel.get("id") or container.get("channel_id") or ""),
        message_ts=str(message.get("ts") or container.get("message_ts") or ""),
        view_id=str(view.get("id") or ""),
        callback_id=str(view.get("callback_id") or ""),
        private_metadata=str(view.get("private_metadata") or ""),
        values=form_values(view),
    )


def _action_value(action: Mapping[str, Any]) -> str:
    if isinstance(action.get("value"), str):
        return str(action["value"])
    return _element_value(action)


def _submission(body: Mapping[str, Any]) -> ViewSubmission:
    user = body.get("user") or {}
    view = body.get("view") or {}
    return ViewSubmission(
        user_id=str(user.get("id") or ""),
        user_name=str(user.get("username") or user.get("name") or ""),
        callback_id=str(view.get("callback_id") or ""),
        values=form_values(view),
        private_metadata=str(view.get("private_metadata") or ""),
        view_id=str(view.get("id") or ""),
    )


def _container(body: Mapping[str, Any]) -> str:
    """Which message or which version of a view a press came from."""
    container = body.get("container") or {}
    if container.get("message_ts"):
        return str(container["message_ts"])
    view = body.get("view") or {}
    return f"{view.get('id', '')}/{view.get('hash', '')}"


def form_values(view: Mapping[str, Any]) -> FormValues:
    """A view's state as `FormValues`: every element's value read as text."""
    state = view.get("state") or {}
    values = state.get("values") or {} if isinstance(state, Mapping) else {}
    return {
        str(block_id): {
            str(action_id): _element_value(element)
            for action_id, element in elements.items()
            if isinstance(element, Mapping)
        }
        for block_id, elements in values.items()
        if isinstance(elements, Mapping)
    }


def _element_value(element: Mapping[str, Any]) -> str:
    """An element's state as text (bot/surfaces.py says how each kind reads)."""
    option = element.get("selected_option")
    if isinstance(option, Mapping):
        return str(option.get("value") or "")
    options = element.get("selected_options")
    if isinstance(options, list):
        return ",".join(str(o.get("value") or "") for o in options if isinstance(o, Mapping))
    for name in (
        "value",
        "selected_time",
        "selected_channel",
        "selected_conversation",
        "selected_user",
        "selected_date",
    ):
        value = element.get(name)
        if isinstance(value, str):
            return value
    return ""
