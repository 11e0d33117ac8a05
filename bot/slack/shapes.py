"""What reaches Bolt: the shapes of the Slack requests briefbot answers, checked first.

Both transports ask the same questions (`bot.slack.http` of a signed body,
`bot.slack.socketmode` of an envelope): is this a `/brief` slash command
(`bot.slack.app.slash_command_problem`), an Events API callback for one of
`EVENT_TYPES`, or an interactivity payload of one of `INTERACTION_TYPES`?
Anything else is refused before Bolt sees it.

Not obvious:
- Bolt trusts the shapes Slack sends: a `block_actions` without `actions`, an
  `actions` that is a list of numbers, an event that is a string, or a
  `view` without `state` crashed inside it (a 500 and a traceback). Only the
  fields Bolt and briefbot read are checked here, each for the type Slack
  documents; other fields are left alone (Slack adds fields over time).
- `message`, `assistant_thread_started` and `assistant_thread_context_changed`
  are let through for the direct-message and assistant-panel listeners: the
  manifest subscribes to them (deploy/slack-app-manifest.yaml). Without a
  listener, Bolt answers such an event 404 and logs it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["EVENT_TYPES", "INTERACTION_TYPES", "event_problem", "interaction_problem"]

#: Events the manifest subscribes to (`message` is how `message.im` arrives).
EVENT_TYPES = frozenset(
    {
        "app_home_opened",
        "message",
        "assistant_thread_started",
        "assistant_thread_context_changed",
        # A workspace removed the app or revoked its tokens: its deliveries stop.
        "app_uninstalled",
        "tokens_revoked",
    }
)
# Fields of an event (and of an edit's inner messages) that must be strings when present.
_EVENT_STRINGS = (
    "type",
    "subtype",
    "user",
    "channel",
    "channel_type",
    "tab",
    "text",
    "ts",
    "thread_ts",
    "event_ts",
    "bot_id",
    "team",
)
# Fields of the callback itself that must be strings when present.
_BODY_STRINGS = ("token", "team_id", "api_app_id", "event_id", "type")
#: Interactivity payloads briefbot answers: buttons, and forms submitted.
INTERACTION_TYPES = frozenset({"block_actions", "view_submission"})


def event_problem(body: Mapping[str, Any]) -> str | None:
    """Why an Events API body is not one briefbot answers (None when it is one)."""
    if body.get("type") != "event_callback":
        return f"{_kind(body)}: not an event callback"
    if not _is_str(body.get("event_id")) or not _is_str(body.get("team_id")):
        return "an event callback without an event_id or team_id"
    authorizations = body.get("authorizations", [])
    if not isinstance(authorizations, list) or not all(isinstance(a, dict) for a in authorizations):
        return "an event callback whose authorizations are not a list of objects"
    event = body.get("event")
    if not isinstance(event, dict) or not _is_str(event.get("type")):
        return "an event callback whose event is not an object with a type"
    kind = event["type"]
    if kind not in EVENT_TYPES:
        return f"an event of type {kind[:40]!r}: briefbot does not subscribe to it"
    bad = [name for name in _BODY_STRINGS if name in body and not isinstance(body[name], str)]
    if bad:
        return f"an event callback whose {bad[0]!r} is not a string"
    if kind == "app_home_opened" and not _is_str(event.get("user")):
        return "an app_home_opened event without a user"
    if kind == "tokens_revoked" and not _revoked_tokens_ok(event.get("tokens")):
        return "a tokens_revoked event whose tokens are not lists of user ids"
    return _event_fields_problem(event, f"a {kind!r} event")


def _event_fields_problem(event: Mapping[str, Any], where: str) -> str | None:
    """The fields Bolt and the DM / assistant listeners read, each of the type Slack gives.

    Strings for ids, text and timestamps; objects for an edit's `message` and
    `previous_message` (checked the same way) and for `assistant_thread`,
    whose `context` is an object of strings.
    """
    for name in _EVENT_STRINGS:
        if name in event and event[name] is not None and not isinstance(event[name], str):
            return f"{where} whose {name} is not a string"
    for name in ("message", "previous_message"):
        inner = event.get(name)
        if inner is None:
            continue
        if not isinstance(inner, Mapping):
            return f"{where} whose {name} is not an object"
        problem = _event_fields_problem(inner, f"{where}'s {name}")
        if problem is not None:
            return problem
    thread = event.get("assistant_thread")
    if thread is None:
        return None
    if not isinstance(thread, Mapping):
        return f"{where} whose assistant_thread is not an object"
    for key, value in thread.items():
        if key == "context":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                return f"{where} whose assistant_thread context is not an object of strings"
        elif not isinstance(value, str):
            return f"{where} whose assistant_thread {str(key)[:40]!r} is not a string"
    return None


def interaction_problem(payload: Mapping[str, Any]) -> str | None:
    """Why an interactivity payload is not one briefbot answers (None when it is one)."""
    kind = payload.get("type")
    if kind not in INTERACTION_TYPES:
        return f"{_kind(payload)}: briefbot answers only buttons and its forms"
    user = payload.get("user")
    if not isinstance(user, dict) or not _is_str(user.get("id")):
        return f"a {kind} payload without a user id"
    for name in ("trigger_id", "response_url", "api_app_id"):
        if name in payload and not isinstance(payload[name], str):
            return f"a {kind} payload whose {name} is not a string"
    for name in ("team", "channel", "container", "message"):
        if payload.get(name) is not None and not isinstance(payload[name], dict):
            return f"a {kind} payload whose {name} is not an object"
    if kind == "block_actions":
        return _actions_problem(payload.get("actions")) or _view_problem(payload.get("view"))
    view = payload.get("view")
    if view is None:
        return "a view_submission without a view"
    return _view_problem(view)


def _actions_problem(actions: object) -> str | None:
    if not isinstance(actions, list) or not actions:
        return "a block_actions payload without actions"
    for action in actions:
        if not isinstance(action, dict) or not _is_str(action.get("action_id")):
            return "a block_actions payload with an action that has no action_id"
        for name in ("block_id", "value", "type", "action_ts"):
            if name in action and not isinstance(action[name], str):
                return f"a block_actions payload whose action {name} is not a string"
    return None


def _view_problem(view: object) -> str | None:
    if view is None:
        return None
    if not isinstance(view, dict):
        return "a payload whose view is not an object"
    for name in ("id", "callback_id", "private_metadata", "hash", "type"):
        if name in view and not isinstance(view[name], str):
            return f"a payload whose view {name} is not a string"
    state = view.get("state", {"values": {}})
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict) or not all(
        isinstance(block, dict) and all(isinstance(v, dict) for v in block.values())
        for block in values.values()
    ):
        return "a payload whose view state is not an object of blocks of elements"
    return None


def _revoked_tokens_ok(tokens: object) -> bool:
    """`tokens` as Slack sends it: {"oauth": [user ids], "bot": [bot user ids]}."""
    if not isinstance(tokens, dict):
        return False
    return all(
        isinstance(ids, list) and all(isinstance(one, str) for one in ids)
        for ids in tokens.values()
    )


def _is_str(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _kind(data: Mapping[str, Any]) -> str:
    kind = data.get("type")
    return f"a {kind[:40]!r} request" if isinstance(kind, str) else "a JSON request"
