"""Typed values out of PyYAML's node tree, every problem collected with its line.

feeds.yaml is read from PyYAML's composed node tree rather than from the Python
objects `yaml.safe_load` builds, for three reasons:

- every value keeps its line (`node.start_mark.line + 1`);
- duplicate keys in one mapping are visible (the constructor silently keeps the
  last one, so a second `url:` would override the first without a word);
- scalars are interpreted here, not by YAML 1.1's implicit rules,
  under which `at: 18:30` is the integer 1110 (base 60), `enabled: yes` is a
  boolean, `id: no` is `False` and `max_items: 010` is octal 8. Here a
  field declared as text takes the scalar's text as written; booleans are only
  `true`/`false` (the YAML 1.2 core schema); numbers are decimal.

`Checker` reads scalars, mappings and lists and reports what is wrong as
`file:line: where: what`; the sections of feeds.yaml (bot/config/sections/)
use it to build their part of the `Config`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from typing import TypeVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config.model import ConfigProblem
from bot.config.units import format_duration, parse_duration, show_value

__all__ = [
    "CHANNEL_RE",
    "ID_RE",
    "USER_RE",
    "Checker",
    "describe_node",
    "entry_label",
    "is_null",
    "line_of",
    "range_text",
]

ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ID_RULE = "lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 64"
# Slack ids: C... public channels, G... private channels (older workspaces);
# U... / W... (Enterprise Grid) users. See https://api.slack.com/docs/conversations-api
CHANNEL_RE = re.compile(r"[CG][A-Z0-9]{8,20}")
USER_RE = re.compile(r"[UW][A-Z0-9]{8,20}")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_INT_RE = re.compile(r"[-+]?[0-9][0-9_]*")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?")

_N = TypeVar("_N", int, float)


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def is_null(node: Node) -> bool:
    """An empty or null scalar written plainly (`~`, `null`, nothing); a quoted "" is text."""
    return isinstance(node, ScalarNode) and node.style is None and node.value in _NULLS


def describe_node(node: Node) -> str:
    """What a value is, for "must be X, not Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if is_null(node) or not isinstance(node, ScalarNode):
        return "empty"
    text = str(node.value)
    if node.style in ("'", '"'):
        return f"the quoted string {show_value(text)}"
    return show_value(text)


def entry_label(item: Node, kind: str, index: int, key: str, pattern: re.Pattern[str]) -> str:
    """How messages name a list entry: by its id when it has a valid one, else by position."""
    if isinstance(item, MappingNode):
        for key_node, value in item.value:
            if key_node.value == key and isinstance(value, ScalarNode):
                if pattern.fullmatch(str(value.value)):
                    return f"{kind} {show_value(str(value.value))}"
                break
    return f"{kind} #{index}"


def range_text(low: float, high: float, low_exclusive: bool, unit: str, value: float) -> str:
    """The bounds a number broke: must be at least LOW and at most HIGH UNIT, not VALUE."""
    suffix = f" {unit}" if unit else ""
    lower = f"more than {low:g}" if low_exclusive else f"at least {low:g}"
    return f"must be {lower} and at most {high:g}{suffix}, not {value:g}"


class Checker:
    """Walks the composed YAML tree, collecting problems; the sections build the config."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[ConfigProblem] = []
        # (where, "topic"/"feed", id, node) named by digests, checked at the end.
        self.references: list[tuple[str, str, str, Node]] = []

    def report(self, at: Node | int | None, where: str, message: str) -> None:
        """Record a problem at a node's line (or a line number, or none)."""
        line = line_of(at) if isinstance(at, Node) else at
        text = f"{where}: {message}" if where else message
        self.problems.append(ConfigProblem(self.filename, line, text))

    def compose(self, text: str) -> Node | None:
        """The document's node tree, or None (reported) when it is not YAML.

        Read by libyaml when PyYAML has it (ten times faster: 40 ms saved per
        100 feeds at every start); a document it refuses is read again by the
        pure-Python parser, whose messages the reports are made from.
        """
        fast = getattr(yaml, "CSafeLoader", None)
        if fast is not None:
            try:
                node: Node | None = yaml.compose(text, Loader=fast)
            except yaml.YAMLError:
                pass
            else:
                _plain_style_as_pure(node)
                return node
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as err:
            self._report_yaml_error(err)
        except yaml.reader.ReaderError as err:
            line = text[: err.position].count("\n") + 1
            char = f"#x{err.character:04x}" if isinstance(err.character, int) else "a byte"
            self.report(line, "", f"invalid YAML: unacceptable character {char}: {err.reason}")
        except yaml.YAMLError as err:
            self.report(None, "", f"invalid YAML: {err}")
        return None

    def _report_yaml_error(self, err: yaml.MarkedYAMLError) -> None:
        # PyYAML's parts read "found X" + "while scanning Y" (context first
        # marked where Y began), or "expected Z" + "but found X".
        mark = err.problem_mark or err.context_mark
        problem, context = err.problem or "", err.context or ""
        if context.startswith("while") and problem:
            start = err.context_mark
            where_from = ""
            if start is not None and mark is not None and start.line != mark.line:
                where_from = f" that starts at line {start.line + 1}"
            text = f"{problem} {context}{where_from}"
        else:
            text = ", ".join(part for part in (context, problem) if part) or "syntax error"
        if mark is not None:
            text += f" (column {mark.column + 1})"
        if "'\\t'" in text:
            text += "; indent YAML with spaces, not tabs"
        self.report(mark.line + 1 if mark is not None else None, "", f"invalid YAML: {text}")

    def mapping(
        self, node: Node, where: str, allowed: Sequence[str], what: str
    ) -> dict[str, Node] | None:
        """Key -> value node of a mapping; reports duplicates, unknown and non-text keys."""
        if not isinstance(node, MappingNode):
            self.report(node, where, f"must be {what}, not {describe_node(node)}")
            return None
        first_line: dict[str, int] = {}
        for key, _ in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` entries are meant to be overridden
            if not isinstance(key, ScalarNode):
                self.report(key, where, f"a key must be a name, not {describe_node(key)}")
                continue
            name = str(key.value)
            if name in first_line:
                self.report(
                    key,
                    where,
                    f"duplicate key {show_value(name)} (first at line {first_line[name]}); "
                    "YAML would silently keep only the last one",
                )
            else:
                first_line[name] = line_of(key)
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                tail = (
                    f" (did you mean {show_value(hint[0])}?)"
                    if hint
                    else f"; expected one of: {', '.join(allowed)}"
                )
                self.report(key, where, f"unknown key {show_value(name)}{tail}")
        # Of duplicates, the first is validated (the duplicate itself is already
        # an error); keys written out win over those merged in with `<<`.
        entries: dict[str, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                entries.setdefault(str(key.value), value)
        if any(key.tag == "tag:yaml.org,2002:merge" for key, _ in node.value):
            try:
                SafeConstructor().flatten_mapping(node)
            except ConstructorError as err:
                self.report(node, where, f"invalid YAML merge: {err.problem}")
                return None
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    entries.setdefault(str(key.value), value)
        return {name: value for name, value in entries.items() if name in allowed}

    def sequence(self, node: Node | None, where: str, name: str, example: str) -> list[Node]:
        """Items of a list value; empty when absent or null."""
        if node is None or is_null(node):
            return []
        if isinstance(node, SequenceNode):
            return list(node.value)
        hint = ""
        if isinstance(node, ScalarNode):
            hint = f" (write [{node.value}] for a list of one)"
        label = f"{name} " if name else ""
        self.report(
            node,
            where,
            f"{label}must be a list such as {example}, not {describe_node(node)}{hint}",
        )
        return []

    def text(
        self, node: Node | None, where: str, name: str, *, required: bool = False, limit: int = 500
    ) -> str | None:
        """A scalar's text as written, at most `limit` characters."""
        if node is None or is_null(node):
            if required:
                self.report(node, where, f"{name} is required")
            return None
        if not isinstance(node, ScalarNode):
            self.report(node, where, f"{name} must be text, not {describe_node(node)}")
            return None
        value = str(node.value)
        if required and not value.strip():
            self.report(node, where, f"{name} must not be empty")
            return None
        if len(value) > limit:
            self.report(node, where, f"{name} is {len(value)} characters long; at most {limit}")
            return None
        return value

    def boolean(self, node: Node | None, where: str, name: str) -> bool | None:
        """`true` or `false` (any case), plain; nothing else."""
        if node is None:
            return None
        # YAML 1.2 booleans only: YAML 1.1's yes/no/on/off are refused, since
        # `country: no` style surprises are exactly what validation is for.
        if isinstance(node, ScalarNode) and node.style is None:
            lowered = str(node.value).lower()
            if lowered in ("true", "false") and str(node.value) in (
                lowered,
                lowered.capitalize(),
                lowered.upper(),
            ):
                return lowered == "true"
        self.report(node, where, f"{name} must be true or false, not {describe_node(node)}")
        return None

    def number(
        self,
        node: Node | None,
        where: str,
        name: str,
        kind: type[_N],
        low: float,
        high: float,
        *,
        unit: str = "",
        low_exclusive: bool = False,
    ) -> _N | None:
        """A decimal number of `kind` within bounds."""
        if node is None:
            return None
        value = self.plain_number(node, kind)
        if value is None:
            noun = "a whole number" if kind is int else "a number"
            self.report(node, where, f"{name} must be {noun}, not {describe_node(node)}")
            return None
        if not self.in_range(value, low, high, low_exclusive):
            self.report(node, where, f"{name} {range_text(low, high, low_exclusive, unit, value)}")
            return None
        return value

    @staticmethod
    def plain_number(node: Node, kind: type[_N]) -> _N | None:
        """A plain scalar read as a decimal `kind`, or None (nothing reported)."""
        if not isinstance(node, ScalarNode) or node.style is not None:
            return None
        raw = str(node.value)
        if _INT_RE.fullmatch(raw):
            return kind(int(raw.replace("_", "")))
        if kind is float and _FLOAT_RE.fullmatch(raw):
            number = float(raw.replace("_", ""))
            return kind(number) if math.isfinite(number) else None
        return None

    @staticmethod
    def in_range(value: float, low: float, high: float, low_exclusive: bool) -> bool:
        above = value > low if low_exclusive else value >= low
        return above and value <= high

    def duration_text(self, node: Node, where: str, name: str, example: str) -> int | None:
        """Seconds in a duration string such as 15m, or None (reported)."""
        if isinstance(node, ScalarNode) and not is_null(node):
            try:
                return parse_duration(str(node.value))
            except ValueError:
                pass
        noun = describe_node(node)
        self.report(node, where, f"{name} {noun} is not a duration such as {example}")
        return None

    def duration(
        self, node: Node | None, where: str, name: str, low: int, high: int, example: str
    ) -> int | None:
        """Whole seconds from a duration string ("15m") or a plain number of seconds."""
        if node is None:
            return None
        value = self.plain_number(node, int)
        bare = value is not None
        if value is None:
            value = self.duration_text(node, where, name, example)
            if value is None:
                return None
        if value < low:
            hint = f"; write {value}m for minutes" if bare and value * 60 >= low else ""
            shown = f"{value} (seconds)" if bare else describe_node(node)
            self.report(
                node,
                where,
                f"{name} {shown} is below the minimum of {format_duration(low)} "
                f"({low} seconds){hint}",
            )
            return None
        if value > high:
            shown = f"{value} (seconds)" if bare else describe_node(node)
            self.report(
                node, where, f"{name} {shown} is above the maximum of {format_duration(high)}"
            )
            return None
        return value

    def slack_id(
        self, node: Node, where: str, name: str, pattern: re.Pattern[str], kind: str
    ) -> str | None:
        """A Slack channel or user id matching `pattern`."""
        value = self.text(node, where, name, required=True, limit=40)
        if value is None:
            return None
        if pattern.fullmatch(value):
            return value
        example = "C0123456789" if kind == "channel" else "U0123456789"
        hint = ""
        if kind == "channel" and value.startswith("#"):
            hint = " (a name can change, its id does not: copy it from the channel's details)"
        self.report(
            node,
            where,
            f"{name} {show_value(value)} is not a Slack {kind} id such as {example}{hint}",
        )
        return None

    def read_id(
        self, keys: dict[str, Node], item: Node, kind: str, index: int, seen: dict[str, int]
    ) -> tuple[str, str | None]:
        """(where-label, valid id or None) for an entry of feeds: or topics:."""
        where = f"{kind} #{index}"
        node = keys.get("id")
        if node is None or is_null(node):
            self.report(node or item, where, "id is required")
            return where, None
        value = self.text(node, where, "id", required=True)
        if value is None:
            return where, None
        if not ID_RE.fullmatch(value):
            self.report(node, where, f"id {show_value(value)} must be {_ID_RULE} characters")
            return where, None
        where = f"{kind} {show_value(value)}"
        if value in seen:
            self.report(node, where, f"duplicate id (first defined at line {seen[value]})")
            return where, None
        seen[value] = line_of(node)
        return where, value


def _plain_style_as_pure(node: Node | None) -> None:
    """libyaml marks a plain scalar with style "" where PyYAML gives None: made alike."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, ScalarNode):
            if current.style == "":
                current.style = None
        elif isinstance(current, MappingNode):
            for key, value in current.value:
                stack += (key, value)
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
