"""Slack's interactive payloads as Slack sends them: home opened, button presses, forms.

Shapes follow Slack's reference (api.slack.com/reference/interaction-payloads
and the Events API's `event_callback`) and bolt-python's own test payloads:
a button press carries `user`, `container`, `trigger_id`, `team`, `channel`
and `message` (pressed in a message; then also `response_url`) or `view`
(pressed on the Home tab or in a modal), and `actions` with the one pressed;
a submission carries the modal's `view` with its `state.values`, by block id
then action id, each element's state as its type keeps it. Over HTTP,
interactivity is a form with one field `payload` (JSON) and events are JSON;
over Socket Mode they are the `payload` of an `interactive` or `events_api`
envelope. `post_event` / `post_interaction` sign and send them.
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlencode

from bot.slack.http import ServerHandle
from tests.support.slackhttp import HttpAnswer, post, sign

__all__ = [
    "block_actions",
    "envelope",
    "home_opened",
    "post_event",
    "post_interaction",
    "select",
    "text_value",
    "view_submission",
]

_ids = itertools.count(1)
TEAM = {"id": "T0FAKETEAM", "domain": "fake-workspace"}


def _user(user_id: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": user_id.lower(),
        "name": user_id.lower(),
        "team_id": "T0FAKETEAM",
    }


def home_opened(user_id: str = "U0ALICE", *, tab: str = "home") -> dict[str, Any]:
    """An `event_callback` for `app_home_opened` (one `event_id` per call)."""
    number = next(_ids)
    return {
        "token": "verification-token-unused",
        "team_id": "T0FAKETEAM",
        "api_app_id": "A0FAKEAPP",
        "event": {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id,
            "tab": tab,
            "event_ts": f"1767000000.{number:06d}",
        },
        "type": "event_callback",
        "event_id": f"Ev0HOME{number:04d}",
        "event_time": 1767000000,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0FAKETEAM",
                "user_id": "U0BRIEFBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-eyJldCI6ImFwcF9ob21lX29wZW5lZCJ9-{number}",
    }


def block_actions(
    action_id: str,
    value: str = "",
    *,
    user_id: str = "U0ALICE",
    channel_id: str = "D0ALICE",
    message_ts: str = "1767000000.000100",
    response_url: str | None = None,
    view: dict[str, Any] | None = None,
    element: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button press: in a message (default), or in `view` (a Home tab or modal as stored)."""
    number = next(_ids)
    action = element or {
        "type": "button",
        "text": {"type": "plain_text", "text": "Button", "emoji": True},
        "value": value,
    }
    action = {
        **action,
        "action_id": action_id,
        "block_id": f"b{number}",
        "action_ts": f"1767000001.{number:06d}",
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id),
        "api_app_id": "A0FAKEAPP",
        "token": "verification-token-unused",
        "trigger_id": f"{number}.4242.{number:032x}",
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is None:
        payload.update(
            container={
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            channel={"id": channel_id, "name": "directmessage"},
            message={
                "type": "message",
                "ts": message_ts,
                "text": "an alert",
                "bot_id": "B0BRIEFBOT",
            },
            state={"values": {}},
            response_url=response_url or "",
        )
    else:
        payload.update(container={"type": "view", "view_id": view["id"]}, view=view)
    return payload


def view_submission(
    view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]], *, user_id: str = "U0ALICE"
) -> dict[str, Any]:
    """A modal submitted: `view` as stored at the fake, with `values` as its state."""
    number = next(_ids)
    return {
        "type": "view_submission",
        "team": TEAM,
        "user": _user(user_id),
        "api_app_id": "A0FAKEAPP",
        "token": "verification-token-unused",
        "trigger_id": f"{number}.4343.{number:032x}",
        "view": {
            **view,
            "team_id": "T0FAKETEAM",
            "state": {"values": values},
            "previous_view_id": None,
            "root_view_id": view["id"],
            "app_id": "A0FAKEAPP",
            "external_id": "",
            "app_installed_team_id": "T0FAKETEAM",
            "bot_id": "B0BRIEFBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def text_value(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def select(kind: str, value: str | None) -> dict[str, Any]:
    """A select's or radio buttons' state: the chosen option, or null."""
    option = (
        None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
    )
    return {"type": kind, "selected_option": option}


def envelope(kind: str, payload: dict[str, Any], envelope_id: str) -> dict[str, Any]:
    """A Socket Mode envelope (`interactive` or `events_api`) carrying `payload`."""
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "accepts_response_payload": kind == "interactive",
        "payload": payload,
        "retry_attempt": 0,
        "retry_reason": "",
    }


def post_event(server: ServerHandle, event: dict[str, Any]) -> HttpAnswer:
    body = json.dumps(event).encode()
    return post(server, body, {**sign(body), "Content-Type": "application/json"})


def post_interaction(server: ServerHandle, payload: dict[str, Any]) -> HttpAnswer:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post(server, body, sign(body))
