"""Which Events API bodies reach Bolt: `event_problem`, shared by HTTP mode and Socket Mode.

Bolt trusts the shapes Slack sends; a signed body with a list where it reads
a string can crash it (see `bot.slack.http`). An event callback reaches Bolt
only when its event is one briefbot answers (`EVENT_TYPES`) and every field
Bolt or our listeners read has the type Slack gives it: strings for ids, text
and timestamps, objects for `assistant_thread` (its `context` of strings)
and for `message` / `previous_message` in an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["EVENT_TYPES", "event_problem"]

#: The events briefbot listens to (a DM, the assistant panel).
EVENT_TYPES = frozenset({"message", "assistant_thread_started", "assistant_thread_context_changed"})
_STRING_FIELDS = (
    "type",
    "subtype",
    "channel",
    "channel_type",
    "user",
    "text",
    "ts",
    "thread_ts",
    "event_ts",
    "bot_id",
    "team",
)
_BODY_STRINGS = ("token", "team_id", "api_app_id", "event_id", "type")


def event_problem(body: Mapping[str, Any]) -> str | None:
    """Why an `event_callback` body must not reach Bolt (None when it may)."""
    if body.get("type") != "event_callback":
        return "not an event callback"
    bad = [name for name in _BODY_STRINGS if name in body and not isinstance(body[name], str)]
    if bad:
        return f"an event callback whose {bad[0]!r} is not a string"
    event = body.get("event")
    if not isinstance(event, Mapping):
        return "an event callback without an event object"
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        shown = repr(kind[:40]) if isinstance(kind, str) else type(kind).__name__
        return f"an event of type {shown}: briefbot answers {', '.join(sorted(EVENT_TYPES))}"
    return _fields_problem(event, "the event")


def _fields_problem(event: Mapping[str, Any], where: str) -> str | None:
    for name in _STRING_FIELDS:
        if name in event and event[name] is not None and not isinstance(event[name], str):
            return f"{where}'s {name!r} is not a string"
    for name in ("message", "previous_message"):
        inner = event.get(name)
        if inner is None:
            continue
        if not isinstance(inner, Mapping):
            return f"{where}'s {name!r} is not an object"
        problem = _fields_problem(inner, f"{where}'s {name}")
        if problem is not None:
            return problem
    thread = event.get("assistant_thread")
    if thread is None:
        return None
    if not isinstance(thread, Mapping):
        return f"{where}'s 'assistant_thread' is not an object"
    for key, value in thread.items():
        if key == "context":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                return f"{where}'s assistant_thread context is not an object of strings"
        elif not isinstance(value, str):
            return f"{where}'s assistant_thread {str(key)[:40]!r} is not a string"
    return None
