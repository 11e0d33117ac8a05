"""The fake Slack's views: views.publish, views.open, views.update, and Block Kit checks.

`FakeSlack` (tests/support/fakeslack.py) keeps one `FakeViews`; its method
table sends the three views.* methods here. Each view is checked the way
Slack refuses one (`invalid_arguments` with the problems in
`response_metadata.messages`, JSON-pointer style): the type, at most 100
blocks, the title and button texts (24 characters), every block and element
type briefbot uses with its text limits, unique block ids in a view or
message, unique action ids in a block. `element_problems` is also what the
fake applies to buttons in chat.postMessage blocks.

Not obvious:
- views.open needs a `trigger_id`; the fake accepts any non-empty one once
  (Slack's expire after 3 s and are single-use: a second use is
  `invalid_trigger_id` here too).
- Each stored view has an id ("V…") and a hash that changes on every
  update; views.update and views.publish given a `hash` that is not the
  current one answer `hash_conflict`, as Slack does.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_VIEW_BLOCKS", "FakeViews", "StoredView", "ViewError", "element_problems"]

MAX_VIEW_BLOCKS = 100
MAX_TITLE = 24
MAX_BUTTON_TEXT = 75
MAX_OPTIONS = 100
MAX_CHOICES = 10  # radio buttons, checkboxes
MAX_ACTIONS = 25
_VIEW_BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "header", "image", "input", "section", "rich_text"}
)
_INPUT_ELEMENTS = frozenset(
    {
        "plain_text_input",
        "static_select",
        "timepicker",
        "radio_buttons",
        "checkboxes",
        "conversations_select",
        "channels_select",
        "datepicker",
    }
)
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


class ViewError(Exception):
    """A views.* call Slack would refuse: its error code and the problems."""

    def __init__(self, code: str, problems: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.problems = problems or []


@dataclass
class StoredView:
    """A view as the fake holds it: who it is for, what it is, its id and hash."""

    id: str
    hash: str
    view: dict[str, Any]
    user: str | None = None  # a Home tab's owner
    trigger_id: str | None = None  # the trigger a modal was opened with

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks") or [])

    def public(self) -> dict[str, Any]:
        return {**self.view, "id": self.id, "hash": self.hash, "state": {"values": {}}}


class FakeViews:
    """The views Slack holds: Home tabs by user, modals by view id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._views: dict[str, StoredView] = {}
        self._homes: dict[str, str] = {}
        self._triggers: set[str] = set()

    # -- what tests read ---------------------------------------------------------

    def home(self, user: str) -> StoredView | None:
        with self._lock:
            view_id = self._homes.get(user)
            return self._views.get(view_id) if view_id else None

    def modals(self) -> list[StoredView]:
        with self._lock:
            return [v for v in self._views.values() if v.view.get("type") == "modal"]

    def get(self, view_id: str) -> StoredView | None:
        with self._lock:
            return self._views.get(view_id)

    # -- the methods -----------------------------------------------------------------

    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id") or "")
        if not re.fullmatch(r"[UW][A-Z0-9]+", user):
            raise ViewError("invalid_arguments", ["user_id must be a user id"])
        view = _checked(params.get("view"), kind="home")
        with self._lock:
            current = self._views.get(self._homes.get(user, ""))
            _check_hash(params, current)
            stored = self._store(view, current, user=user)
            self._homes[user] = stored.id
        return {"view": stored.public()}

    def open(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger = str(params.get("trigger_id") or "")
        if not trigger:
            raise ViewError("invalid_arguments", ["missing required field: trigger_id"])
        view = _checked(params.get("view"), kind="modal")
        with self._lock:
            if trigger in self._triggers:
                raise ViewError("invalid_trigger_id")
            self._triggers.add(trigger)
            stored = self._store(view, None, trigger_id=trigger)
        return {"view": stored.public()}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = str(params.get("view_id") or "")
        view = _checked(params.get("view"), kind=None)
        with self._lock:
            current = self._views.get(view_id)
            if current is None:
                raise ViewError("not_found")
            _check_hash(params, current)
            stored = self._store(view, current, user=current.user)
        return {"view": stored.public()}

    def _store(
        self,
        view: dict[str, Any],
        current: StoredView | None,
        *,
        user: str | None = None,
        trigger_id: str | None = None,
    ) -> StoredView:
        number = next(self._ids)
        view_id = current.id if current is not None else f"V{number:08d}"
        stored = StoredView(view_id, f"{number}.h{number:04x}", view, user, trigger_id)
        if current is not None:
            stored.trigger_id = current.trigger_id
        self._views[view_id] = stored
        return stored


def _check_hash(params: dict[str, Any], current: StoredView | None) -> None:
    given = params.get("hash")
    if given and (current is None or given != current.hash):
        raise ViewError("hash_conflict")


def _checked(raw: Any, *, kind: str | None) -> dict[str, Any]:
    view = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(view, dict):
        raise ViewError("invalid_arguments", ["view must be an object [json-pointer:/view]"])
    problems = list(view_problems(view, kind))
    if problems:
        raise ViewError("invalid_arguments", problems)
    return view


def view_problems(view: dict[str, Any], kind: str | None) -> Iterator[str]:
    """Why Slack would refuse `view` (of `kind`, if given)."""
    if view.get("type") not in ("home", "modal") or (kind and view["type"] != kind):
        yield f"must be a {kind or 'home or modal'} view [json-pointer:/view/type]"
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        yield "missing required field: blocks [json-pointer:/view/blocks]"
        return
    if len(blocks) > MAX_VIEW_BLOCKS:
        yield f"no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]"
    if view.get("type") == "modal":
        for name in ("title", "submit", "close"):
            if name in view or name == "title":
                yield from _text(view.get(name), f"/view/{name}", MAX_TITLE, plain=True)
        if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and not view.get(
            "submit"
        ):
            yield "a view with input blocks needs submit [json-pointer:/view/submit]"
    if len(str(view.get("private_metadata") or "")) > 3000:
        yield "must be less than 3001 characters [json-pointer:/view/private_metadata]"
    yield from block_problems(blocks, "/view/blocks", _VIEW_BLOCK_TYPES)


def block_problems(blocks: list[Any], where: str, known: frozenset[str]) -> Iterator[str]:
    """Block ids unique, each block's type known, its elements valid."""
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        spot = f"{where}/{index}"
        if not isinstance(block, dict):
            yield f"must be an object [json-pointer:{spot}]"
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                yield f"duplicate block_id {block_id!r} [json-pointer:{spot}/block_id]"
            seen.add(str(block_id))
        kind = block.get("type")
        if kind not in known:
            yield f"unsupported type: {kind} [json-pointer:{spot}/type]"
        elif kind == "section":
            yield from _text(block.get("text"), f"{spot}/text", 3000, required=False)
            if "accessory" in block:
                yield from element_problems(block["accessory"], f"{spot}/accessory")
        elif kind == "actions":
            yield from _actions(block, spot)
        elif kind == "input":
            yield from _text(block.get("label"), f"{spot}/label", 2000, plain=True)
            element = block.get("element")
            if not isinstance(element, dict) or element.get("type") not in _INPUT_ELEMENTS:
                yield f"unsupported input element [json-pointer:{spot}/element]"
            else:
                yield from element_problems(element, f"{spot}/element")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                yield f"must provide 1 to 10 items [json-pointer:{spot}/elements]"
            else:
                for i, element in enumerate(elements):
                    yield from _text(element, f"{spot}/elements/{i}", 3000)
        elif kind == "header":
            yield from _text(block.get("text"), f"{spot}/text", 150, plain=True)


def _actions(block: dict[str, Any], spot: str) -> Iterator[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTIONS:
        yield f"must provide 1 to {MAX_ACTIONS} items [json-pointer:{spot}/elements]"
        return
    ids: set[str] = set()
    for i, element in enumerate(elements):
        yield from element_problems(element, f"{spot}/elements/{i}")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id in ids:
            yield f"duplicate action_id {action_id!r} [json-pointer:{spot}/elements/{i}]"
        ids.add(str(action_id))


def element_problems(element: Any, where: str) -> Iterator[str]:
    """Why Slack would refuse an interactive element (the kinds briefbot uses)."""
    if not isinstance(element, dict):
        yield f"must be an object [json-pointer:{where}]"
        return
    kind = element.get("type")
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
        yield f"must be a string of at most 255 characters [json-pointer:{where}/action_id]"
    if kind == "button":
        yield from _text(element.get("text"), f"{where}/text", MAX_BUTTON_TEXT, plain=True)
        if len(str(element.get("value") or "")) > 2000:
            yield f"must be less than 2001 characters [json-pointer:{where}/value]"
        if element.get("style") not in (None, "primary", "danger"):
            yield f"must be primary or danger [json-pointer:{where}/style]"
    elif kind in ("static_select", "radio_buttons", "checkboxes"):
        limit = MAX_OPTIONS if kind == "static_select" else MAX_CHOICES
        options = element.get("options")
        if not isinstance(options, list) or not 1 <= len(options) <= limit:
            yield f"must provide 1 to {limit} options [json-pointer:{where}/options]"
        else:
            for i, option in enumerate(options):
                yield from _option(option, f"{where}/options/{i}")
    elif kind == "timepicker":
        initial = element.get("initial_time")
        if initial is not None and not _TIME.fullmatch(str(initial)):
            yield f"must be HH:mm [json-pointer:{where}/initial_time]"
    elif kind == "plain_text_input":
        if len(str(element.get("initial_value") or "")) > 3000:
            yield f"must be less than 3001 characters [json-pointer:{where}/initial_value]"
    elif kind not in _INPUT_ELEMENTS:
        yield f"unsupported element type: {kind} [json-pointer:{where}/type]"


def _option(option: Any, where: str) -> Iterator[str]:
    if not isinstance(option, dict):
        yield f"must be an object [json-pointer:{where}]"
        return
    yield from _text(option.get("text"), f"{where}/text", MAX_BUTTON_TEXT, plain=True)
    value = option.get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 150:
        yield f"must be 1 to 150 characters [json-pointer:{where}/value]"


def _text(
    obj: Any, where: str, limit: int, *, plain: bool = False, required: bool = True
) -> Iterator[str]:
    if obj is None and not required:
        return
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        yield f"must be a {' or '.join(kinds)} text object [json-pointer:{where}]"
        return
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        yield f"must be more than 0 characters [json-pointer:{where}/text]"
    elif len(text) > limit:
        yield f"must be less than {limit + 1} characters [json-pointer:{where}/text]"
