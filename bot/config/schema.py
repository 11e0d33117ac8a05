"""Read feeds.yaml and the environment into frozen, validated settings objects.

Every problem in a file is collected and reported at once, each as
`file:line: where: what` (`feeds.yaml:14: feed 'fr-bis': interval '15 minutes'
is not a duration such as 15m or 2h`), so an operator fixes a file in one pass.

The file is read from PyYAML's composed node tree rather than from the Python
objects `yaml.safe_load` builds, for three reasons:

- every value keeps its line (`node.start_mark.line + 1`);
- duplicate keys in one mapping are visible (the constructor silently keeps the
  last one, so a second `url:` would override the first without a word);
- scalars are interpreted by this module, not by YAML 1.1's implicit rules,
  under which `at: 18:30` is the integer 1110 (base 60), `enabled: yes` is a
  boolean, `id: no` is `False` and `max_items: 010` is octal 8. Here a
  field declared as text takes the scalar's text as written; booleans are only
  `true`/`false` (the YAML 1.2 core schema); numbers are decimal.

Secrets come only from the environment (SLACK_*), never from the file, and no
text this module produces contains a token: `SlackSecrets.__repr__` and
`describe_config` show only "set"/"not set", and URLs are shown with their
credentials replaced by `***`.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.resources
import ipaddress
import math
import os
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.models import FeedConfig, Settings

__all__ = [
    "DEFAULT_SLACK_API_URL",
    "EMBEDDED_PATH",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DigestConfig",
    "SlackSecrets",
    "TopicConfig",
    "describe_config",
    "format_days",
    "format_duration",
    "load_config",
    "parse_config_text",
    "parse_days",
    "parse_duration",
    "parse_size",
    "redact_url",
]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# What `Config.path` and error locations say for the copy shipped in the package.
EMBEDDED_PATH = "<embedded defaults>"
ENVIRONMENT = "<environment>"

# A feeds.yaml is a few kilobytes; a bigger file is almost surely the wrong one.
MAX_FILE_BYTES = 5 * 1024 * 1024

MIN_FEED_INTERVAL = 60
MAX_FEED_INTERVAL = 7 * 86400
DEFAULT_FEED_INTERVAL = 1800


# -- public value objects ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration, and where (line is 1-based)."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; `problems` lists every reason, `str()` one per line."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """A named query (`topics:`); higher `priority` sorts first in digests."""

    id: str
    query: str
    description: str = ""
    priority: int = 0


ALL_DAYS: frozenset[int] = frozenset(range(7))


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """One channel's scheduled digest (`digests:`). Days are 0=Monday .. 6=Sunday.

    Empty `topics` means every defined topic; empty `feeds` means every feed.
    """

    channel: str
    at: time
    timezone: str
    days: frozenset[int] = ALL_DAYS
    topics: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    max_items: int = 20
    # True: the first message holds the top items, the overflow goes in its thread.
    thread: bool = True
    when_empty: str = "skip"  # "skip" (post nothing) or "notice" (say there was nothing)


@dataclass(frozen=True, slots=True)
class SlackSecrets:
    """Slack credentials from the environment. The repr never shows a token."""

    bot_token: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str = DEFAULT_SLACK_API_URL

    @property
    def socket_mode(self) -> bool:
        """An app-level token selects Socket Mode; without one the bot serves HTTP."""
        return bool(self.app_token)

    def __repr__(self) -> str:
        return (
            f"SlackSecrets(bot_token={_set_or_not(self.bot_token)}, "
            f"signing_secret={_set_or_not(self.signing_secret)}, "
            f"app_token={_set_or_not(self.app_token)}, api_url={redact_url(self.api_url)!r})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Config:
    """Everything feeds.yaml and the environment say, validated."""

    path: str
    settings: Settings = field(default_factory=Settings)
    feeds: tuple[FeedConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    digests: tuple[DigestConfig, ...] = ()
    admins: tuple[str, ...] = ()
    ops_channel: str | None = None
    slack: SlackSecrets = field(default_factory=SlackSecrets)

    def feed(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.id == feed_id), None)

    def topic(self, topic_id: str) -> TopicConfig | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def digest(self, channel: str) -> DigestConfig | None:
        return next((d for d in self.digests if d.channel == channel), None)

    @property
    def enabled_feeds(self) -> tuple[FeedConfig, ...]:
        return tuple(f for f in self.feeds if f.enabled)

    def __repr__(self) -> str:
        # Feed URLs may carry credentials (user:password@, ?token=): show them redacted.
        feeds = tuple(dataclasses.replace(f, url=redact_url(f.url)) for f in self.feeds)
        return (
            f"Config(path={self.path!r}, settings={self.settings!r}, feeds={feeds!r}, "
            f"topics={self.topics!r}, digests={self.digests!r}, admins={self.admins!r}, "
            f"ops_channel={self.ops_channel!r}, slack={self.slack!r})"
        )

    __str__ = __repr__


# -- loading ----------------------------------------------------------------


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration: `path`, else $BRIEFBOT_CONFIG, else ./feeds.yaml, else the
    copy shipped in the package. A path that is named but missing is an error."""
    env = os.environ if env is None else env
    named_by = "--config"
    if path is None and env.get("BRIEFBOT_CONFIG"):
        path, named_by = env["BRIEFBOT_CONFIG"], "BRIEFBOT_CONFIG"
    if path is None:
        local = Path("feeds.yaml")
        if not local.is_file():
            return parse_config_text(_read_embedded(), EMBEDDED_PATH, env)
        path, named_by = local, ""
    shown = str(path)
    target = Path(path).expanduser()
    if not target.exists():
        source = f" (named by {named_by})" if named_by == "BRIEFBOT_CONFIG" else ""
        raise ConfigError([ConfigProblem(shown, None, f"no such file{source}")])
    if not target.is_file():
        raise ConfigError([ConfigProblem(shown, None, "is not a file")])
    try:
        data = target.read_bytes()
    except OSError as err:
        raise ConfigError([ConfigProblem(shown, None, f"cannot be read: {err.strerror}")]) from None
    if len(data) > MAX_FILE_BYTES:
        message = f"is {len(data):,} bytes; a feeds.yaml over {MAX_FILE_BYTES:,} bytes is refused"
        raise ConfigError([ConfigProblem(shown, None, message)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError([ConfigProblem(shown, line, "is not UTF-8 text")]) from None
    return parse_config_text(text, shown, env)


def _read_embedded() -> str:
    # bot/default_feeds.yaml is a symlink to the repository's feeds.yaml; a built
    # wheel holds a copy of the file it points to.
    return importlib.resources.files("bot").joinpath("default_feeds.yaml").read_text("utf-8")


def parse_config_text(
    text: str, filename: str = "feeds.yaml", env: Mapping[str, str] | None = None
) -> Config:
    """Validate feeds.yaml text plus the environment; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    checker = _Checker(filename)
    root = checker.compose(text)
    config = checker.read_root(root) if root is not None else Config(path=filename)
    config = dataclasses.replace(config, path=filename)
    config = checker.apply_env(config, env)
    if checker.problems:
        raise ConfigError(sorted(checker.problems, key=_problem_order))
    return config


def _problem_order(problem: ConfigProblem) -> tuple[int, int]:
    return (0 if problem.file != ENVIRONMENT else 1, problem.line or 0)


# -- scalar grammars (public: the CLI and Slack commands parse the same forms) --

_DURATION_RE = re.compile(
    r"(?:(?P<d>\d{1,6})\s*d)?\s*(?:(?P<h>\d{1,6})\s*h)?\s*"
    r"(?:(?P<m>\d{1,6})\s*m)?\s*(?:(?P<s>\d{1,9})\s*s)?",
    re.IGNORECASE,
)
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in "90s", "15m", "2h", "1d" or "1h30m" (units in that order, each once).

    Raises ValueError with a message fit for an operator.
    """
    cleaned = text.strip()
    match = _DURATION_RE.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        raise ValueError(f"{_show(text)} is not a duration such as 15m or 2h")
    return sum(int(v) * _DURATION_UNITS[k] for k, v in match.groupdict().items() if v)


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for whole seconds: 5400 -> "1h30m"."""
    if seconds != int(seconds) or seconds < 0:
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in _DURATION_UNITS.items():
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


# Binary multiples, as in the default max_bytes of 10 * 1024 * 1024 ("10MB").
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE_RE = re.compile(r"(\d{1,12})\s*(?:([kmg])(?:i?b)?|(b)?)", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in "512KB", "10MB", "1GB" (binary: 1KB = 1024 bytes) or a plain number."""
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{_show(text)} is not a size such as 512KB or 10MB")
    unit = (match.group(2) or match.group(3) or "").lower()
    return int(match.group(1)) * _SIZE_UNITS[unit]


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{
        full: i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_DAY_SETS = {
    "daily": ALL_DAYS,
    "everyday": ALL_DAYS,
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}


def parse_days(spec: str | Iterable[str]) -> frozenset[int]:
    """Weekday numbers (0=Monday) from "mon-fri", "mon,wed,fri", "daily", "weekdays",
    "weekends", "fri-mon" (ranges wrap), or a list of such parts."""
    parts = [spec] if isinstance(spec, str) else list(spec)
    days: set[int] = set()
    for part in parts:
        for word in re.split(r"[,\s]+", part.strip().lower()):
            if not word:
                continue
            if word in _DAY_SETS:
                days |= _DAY_SETS[word]
                continue
            first, dash, last = word.partition("-")
            for name in (first, last) if dash else (first,):
                if name not in _DAY_ALIASES:
                    raise ValueError(f"{_show(name)} is not a day name such as mon or friday")
            start = _DAY_ALIASES[first]
            end = _DAY_ALIASES[last] if dash else start
            days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    if not days:
        raise ValueError("names no day, so the digest would never be sent")
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """A short spec for a set of weekdays: "daily", "mon-fri", "mon,wed,fri"."""
    if days == ALL_DAYS:
        return "daily"
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    out = []
    for run in runs:
        if len(run) >= 3:
            out.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            out.extend(DAY_NAMES[d] for d in run)
    return ",".join(out)


_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")


def _parse_time_of_day(text: str) -> time:
    match = _TIME_RE.fullmatch(text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{_show(text)} is not a time of day such as 08:30 (24-hour HH:MM)")
    return time(int(match.group(1)), int(match.group(2)))


# -- redaction ----------------------------------------------------------------

_SECRET_WORDS = frozenset(
    {
        "token",
        "key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "auth",
        "signature",
        "sig",
        "credential",
        "credentials",
        "session",
        "sessionid",
    }
)
_SECRET_SUFFIXES = ("token", "apikey", "secret", "password", "passwd")


def _is_secret_name(name: str) -> bool:
    # "access_token", "apiKey", "X-Amz-Signature", "authtoken" are secrets;
    # "keywords" or "conditions[term]" are not.
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", unquote(name))
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words)


def redact_url(url: str) -> str:
    """`url` with any user:password@ and secret-looking query values replaced by `***`.

    The rest of the query is kept byte for byte (its percent-encoding included).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}=***" if sep and _is_secret_name(name) else f"{name}{sep}{value}"
        for name, sep, value in (pair.partition("=") for pair in parts.query.split("&"))
    )
    fragment = parts.fragment
    if "=" in fragment and any(
        _is_secret_name(pair.partition("=")[0]) for pair in fragment.split("&")
    ):
        fragment = "***"  # OAuth implicit flows put tokens in the fragment
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _set_or_not(value: str | None) -> str:
    return "set" if value else "not set"


# -- description for check-config ------------------------------------------


def describe_config(config: Config) -> dict[str, Any]:
    """The resolved configuration as JSON-ready data, secrets shown only as set / not set."""
    settings = {f.name: getattr(config.settings, f.name) for f in dataclasses.fields(Settings)}
    return {
        "path": config.path,
        "settings": settings,
        "feeds": [
            {
                "id": f.id,
                "name": f.display_name,
                "url": redact_url(f.url),
                "interval": format_duration(f.interval_seconds),
                "interval_seconds": f.interval_seconds,
                "tags": list(f.tags),
                "enabled": f.enabled,
                "allow_private": f.allow_private,
            }
            for f in config.feeds
        ],
        "topics": [
            {"id": t.id, "query": t.query, "description": t.description, "priority": t.priority}
            for t in config.topics
        ],
        "digests": [
            {
                "channel": d.channel,
                "at": d.at.strftime("%H:%M"),
                "timezone": d.timezone,
                "days": format_days(d.days),
                "topics": list(d.topics) or "all",
                "feeds": list(d.feeds) or "all",
                "max_items": d.max_items,
                "thread": d.thread,
                "when_empty": d.when_empty,
            }
            for d in config.digests
        ],
        "admins": list(config.admins),
        "ops_channel": config.ops_channel,
        "slack": {
            "bot_token": _set_or_not(config.slack.bot_token),
            "signing_secret": _set_or_not(config.slack.signing_secret),
            "app_token": _set_or_not(config.slack.app_token),
            "api_url": redact_url(config.slack.api_url),
            "mode": "socket" if config.slack.socket_mode else "http",
        },
    }


# -- the schema -------------------------------------------------------------

TOP_LEVEL_KEYS = ("settings", "feeds", "topics", "digests", "admins", "ops_channel")
FEED_KEYS = ("id", "url", "name", "tags", "interval", "enabled", "allow_private")
TOPIC_KEYS = ("id", "query", "description", "priority")
DIGEST_KEYS = (
    "channel",
    "at",
    "timezone",
    "days",
    "topics",
    "feeds",
    "max_items",
    "thread",
    "when_empty",
)
WHEN_EMPTY = ("skip", "notice")

_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ID_RULE = "lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 64"
# Slack ids: C... public channels, G... private channels (older workspaces);
# U... / W... (Enterprise Grid) users. See https://api.slack.com/docs/conversations-api
_CHANNEL_RE = re.compile(r"[CG][A-Z0-9]{8,20}")
_USER_RE = re.compile(r"[UW][A-Z0-9]{8,20}")
# Tags are matched with `tag:NAME` in queries, so no spaces or query syntax.
_TAG_RE = re.compile(r"[^\s:\"'(),]{1,64}")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_INT_RE = re.compile(r"[-+]?[0-9][0-9_]*")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?")

_N = TypeVar("_N", int, float)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one `settings:` key is read: kind, inclusive bounds, and an error hint."""

    kind: str  # "text", "path", "optional-path", "int", "seconds", "duration", "size"
    low: float = 0
    high: float = 0
    low_exclusive: bool = False


_SETTING_RULES: dict[str, _Rule] = {
    "user_agent": _Rule("text"),
    "connect_timeout": _Rule("seconds", 0, 300, low_exclusive=True),
    "read_timeout": _Rule("seconds", 0, 600, low_exclusive=True),
    "total_timeout": _Rule("seconds", 0, 3600, low_exclusive=True),
    "max_bytes": _Rule("size", 1024, 1024**3),
    "max_redirects": _Rule("int", 0, 20),
    "concurrency": _Rule("int", 1, 256),
    "per_host_concurrency": _Rule("int", 1, 64),
    "retention_days": _Rule("int", 1, 3650),
    "data_dir": _Rule("path"),
    "backoff_base_seconds": _Rule("duration", 1, 86400),
    "backoff_max_seconds": _Rule("duration", 60, 7 * 86400),
    "summary_max_chars": _Rule("int", 50, 20000),
    "templates_dir": _Rule("optional-path"),
    "failure_notice_seconds": _Rule("duration", 60, 30 * 86400),
}


# -- the checker --------------------------------------------------------------


def _show(text: str, limit: int = 60) -> str:
    """A value quoted for an error message, shortened."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    if "'" in short or not short.isprintable():
        return repr(short)
    return f"'{short}'"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.style is None and node.value in _NULLS


def _describe_node(node: Node) -> str:
    """What a value is, for "must be X, not Y" messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if _is_null(node) or not isinstance(node, ScalarNode):
        return "empty"
    text = str(node.value)
    if node.style in ("'", '"'):
        return f"the quoted string {_show(text)}"
    return _show(text)


class _Checker:
    """Walks the composed YAML tree, collecting problems and building the config."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[ConfigProblem] = []
        # (where, "topic"/"feed", id, node) named by digests, checked at the end.
        self.references: list[tuple[str, str, str, Node]] = []

    def report(self, at: Node | int | None, where: str, message: str) -> None:
        line = _line(at) if isinstance(at, Node) else at
        text = f"{where}: {message}" if where else message
        self.problems.append(ConfigProblem(self.filename, line, text))

    # -- YAML ---------------------------------------------------------------

    def compose(self, text: str) -> Node | None:
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
            self.report(node, where, f"must be {what}, not {_describe_node(node)}")
            return None
        first_line: dict[str, int] = {}
        for key, _ in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` entries are meant to be overridden
            if not isinstance(key, ScalarNode):
                self.report(key, where, f"a key must be a name, not {_describe_node(key)}")
                continue
            name = str(key.value)
            if name in first_line:
                self.report(
                    key,
                    where,
                    f"duplicate key {_show(name)} (first at line {first_line[name]}); "
                    "YAML would silently keep only the last one",
                )
            else:
                first_line[name] = _line(key)
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                tail = (
                    f" (did you mean {_show(hint[0])}?)"
                    if hint
                    else f"; expected one of: {', '.join(allowed)}"
                )
                self.report(key, where, f"unknown key {_show(name)}{tail}")
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
        if node is None or _is_null(node):
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
            f"{label}must be a list such as {example}, not {_describe_node(node)}{hint}",
        )
        return []

    # -- scalar fields ------------------------------------------------------

    def text(
        self, node: Node | None, where: str, name: str, *, required: bool = False, limit: int = 500
    ) -> str | None:
        if node is None or _is_null(node):
            if required:
                self.report(node, where, f"{name} is required")
            return None
        if not isinstance(node, ScalarNode):
            self.report(node, where, f"{name} must be text, not {_describe_node(node)}")
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
        self.report(node, where, f"{name} must be true or false, not {_describe_node(node)}")
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
        if node is None:
            return None
        value = self._plain_number(node, kind)
        if value is None:
            noun = "a whole number" if kind is int else "a number"
            self.report(node, where, f"{name} must be {noun}, not {_describe_node(node)}")
            return None
        if not self._in_range(value, low, high, low_exclusive):
            self.report(node, where, f"{name} {_range_text(low, high, low_exclusive, unit, value)}")
            return None
        return value

    @staticmethod
    def _plain_number(node: Node, kind: type[_N]) -> _N | None:
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
    def _in_range(value: float, low: float, high: float, low_exclusive: bool) -> bool:
        above = value > low if low_exclusive else value >= low
        return above and value <= high

    def seconds(self, node: Node | None, where: str, name: str, rule: _Rule) -> float | None:
        """A number of seconds, or a duration string; for timeouts."""
        if node is None:
            return None
        value: float | None = self._plain_number(node, float)
        if value is None:
            value = self._duration_text(node, where, name, "10s or 2m")
            if value is None:
                return None
        if not self._in_range(value, rule.low, rule.high, rule.low_exclusive):
            self.report(
                node,
                where,
                f"{name} {_range_text(rule.low, rule.high, rule.low_exclusive, 'seconds', value)}",
            )
            return None
        return float(value)

    def _duration_text(self, node: Node, where: str, name: str, example: str) -> int | None:
        if isinstance(node, ScalarNode) and not _is_null(node):
            try:
                return parse_duration(str(node.value))
            except ValueError:
                pass
        noun = _describe_node(node)
        self.report(node, where, f"{name} {noun} is not a duration such as {example}")
        return None

    def duration(
        self, node: Node | None, where: str, name: str, low: int, high: int, example: str
    ) -> int | None:
        """Whole seconds from a duration string ("15m") or a plain number of seconds."""
        if node is None:
            return None
        value = self._plain_number(node, int)
        bare = value is not None
        if value is None:
            value = self._duration_text(node, where, name, example)
            if value is None:
                return None
        if value < low:
            hint = f"; write {value}m for minutes" if bare and value * 60 >= low else ""
            shown = f"{value} (seconds)" if bare else _describe_node(node)
            self.report(
                node,
                where,
                f"{name} {shown} is below the minimum of {format_duration(low)} "
                f"({low} seconds){hint}",
            )
            return None
        if value > high:
            shown = f"{value} (seconds)" if bare else _describe_node(node)
            self.report(
                node, where, f"{name} {shown} is above the maximum of {format_duration(high)}"
            )
            return None
        return value

    def size(self, node: Node | None, where: str, name: str, rule: _Rule) -> int | None:
        if node is None:
            return None
        value = self._plain_number(node, int)
        if value is None:
            try:
                if not isinstance(node, ScalarNode) or _is_null(node):
                    raise ValueError
                value = parse_size(str(node.value))
            except ValueError:
                self.report(
                    node,
                    where,
                    f"{name} {_describe_node(node)} is not a size such as 512KB or 10MB",
                )
                return None
        if not self._in_range(value, rule.low, rule.high, False):
            self.report(
                node,
                where,
                f"{name} must be between 1KB and 1GB ({int(rule.low)} and {int(rule.high)} "
                f"bytes), not {_describe_node(node)}",
            )
            return None
        return value

    def slack_id(
        self, node: Node, where: str, name: str, pattern: re.Pattern[str], kind: str
    ) -> str | None:
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
            node, where, f"{name} {_show(value)} is not a Slack {kind} id such as {example}{hint}"
        )
        return None

    # -- sections -----------------------------------------------------------

    def read_root(self, root: Node) -> Config:
        if _is_null(root):
            return Config(path=self.filename)
        if not isinstance(root, MappingNode):
            self.report(
                root,
                "",
                f"the top level must be a mapping with the keys {', '.join(TOP_LEVEL_KEYS)}, "
                f"not {_describe_node(root)}",
            )
            return Config(path=self.filename)
        keys = self.mapping(root, "", TOP_LEVEL_KEYS, "a mapping")
        if keys is None:
            return Config(path=self.filename)
        settings = self.read_settings(keys.get("settings"))
        feeds, feed_lines = self.read_list(keys.get("feeds"), "feeds", self.read_feed)
        topics, topic_lines = self.read_list(keys.get("topics"), "topics", self.read_topic)
        digests, _ = self.read_list(keys.get("digests"), "digests", self.read_digest)
        self.check_references(feed_lines, topic_lines)
        admins: list[str] = []
        for item in self.sequence(keys.get("admins"), "admins", "", "[U0123456789]"):
            user = self.slack_id(item, "admins", "admin", _USER_RE, "user")
            if user is not None and user not in admins:
                admins.append(user)
        ops_node = keys.get("ops_channel")
        ops_channel = None
        if ops_node is not None and not _is_null(ops_node):
            ops_channel = self.slack_id(ops_node, "", "ops_channel", _CHANNEL_RE, "channel")
        return Config(
            path=self.filename,
            settings=settings,
            feeds=tuple(feeds),
            topics=tuple(topics),
            digests=tuple(digests),
            admins=tuple(admins),
            ops_channel=ops_channel,
        )

    def read_list(
        self,
        node: Node | None,
        section: str,
        read_one: Callable[[Node, int, dict[str, int]], _T | None],
    ) -> tuple[list[_T], dict[str, int]]:
        """Read each entry of a top-level list; `seen` maps ids to their first line."""
        example = {"feeds": "[{id: ..., url: ...}]", "topics": "[{id: ..., query: ...}]"}.get(
            section, "[{channel: ..., at: ...}]"
        )
        out: list[_T] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(self.sequence(node, "", section, example), start=1):
            value = read_one(item, index, seen)
            if value is not None:
                out.append(value)
        return out, seen

    def read_settings(self, node: Node | None) -> Settings:
        where = "settings"
        if node is None or _is_null(node):
            return Settings()
        keys = self.mapping(node, where, tuple(_SETTING_RULES), "a mapping of setting names")
        if keys is None:
            return Settings()
        values: dict[str, Any] = {}
        for name, value_node in keys.items():
            rule = _SETTING_RULES[name]
            value: Any
            if rule.kind == "text":
                value = self.text(value_node, where, name, required=True, limit=512)
                if value is not None and not value.isprintable():
                    self.report(value_node, where, f"{name} must be one line of printable text")
                    value = None
            elif rule.kind in ("path", "optional-path"):
                if rule.kind == "optional-path" and _is_null(value_node):
                    values[name] = None
                    continue
                value = self.text(value_node, where, name, required=True, limit=4096)
            elif rule.kind == "int":
                value = self.number(value_node, where, name, int, rule.low, rule.high)
            elif rule.kind == "seconds":
                value = self.seconds(value_node, where, name, rule)
            elif rule.kind == "duration":
                value = self.duration(
                    value_node, where, name, int(rule.low), int(rule.high), "5m or 6h"
                )
            else:
                value = self.size(value_node, where, name, rule)
            if value is not None:
                values[name] = value
        settings = Settings(**values)
        self.check_settings(settings, keys)
        return settings

    def check_settings(self, settings: Settings, keys: dict[str, Node]) -> None:
        def at(*names: str) -> Node | None:
            return next((keys[n] for n in names if n in keys), None)

        if settings.total_timeout < settings.connect_timeout:
            self.report(
                at("total_timeout", "connect_timeout"),
                "settings",
                f"total_timeout ({settings.total_timeout:g}s) is shorter than "
                f"connect_timeout ({settings.connect_timeout:g}s)",
            )
        if settings.per_host_concurrency > settings.concurrency:
            self.report(
                at("per_host_concurrency", "concurrency"),
                "settings",
                f"per_host_concurrency ({settings.per_host_concurrency}) is more than "
                f"concurrency ({settings.concurrency})",
            )
        if settings.backoff_max_seconds < settings.backoff_base_seconds:
            self.report(
                at("backoff_max_seconds", "backoff_base_seconds"),
                "settings",
                f"backoff_max_seconds ({format_duration(settings.backoff_max_seconds)}) is "
                f"shorter than backoff_base_seconds "
                f"({format_duration(settings.backoff_base_seconds)})",
            )

    def read_id(
        self, keys: dict[str, Node], item: Node, kind: str, index: int, seen: dict[str, int]
    ) -> tuple[str, str | None]:
        """(where-label, valid id or None) for an entry of feeds: or topics:."""
        where = f"{kind} #{index}"
        node = keys.get("id")
        if node is None or _is_null(node):
            self.report(node or item, where, "id is required")
            return where, None
        value = self.text(node, where, "id", required=True)
        if value is None:
            return where, None
        if not _ID_RE.fullmatch(value):
            self.report(node, where, f"id {_show(value)} must be {_ID_RULE} characters")
            return where, None
        where = f"{kind} {_show(value)}"
        if value in seen:
            self.report(node, where, f"duplicate id (first defined at line {seen[value]})")
            return where, None
        seen[value] = _line(node)
        return where, value

    def read_feed(self, item: Node, index: int, seen: dict[str, int]) -> FeedConfig | None:
        label = _entry_label(item, "feed", index, "id", _ID_RE)
        keys = self.mapping(item, label, FEED_KEYS, "a mapping with id and url")
        if keys is None:
            return None
        where, feed_id = self.read_id(keys, item, "feed", index, seen)
        allow_private = self.boolean(keys.get("allow_private"), where, "allow_private")
        url = self.read_url(keys.get("url"), item, where, allow_private=bool(allow_private))
        name = self.text(keys.get("name"), where, "name", limit=200)
        tags = self.read_tags(keys.get("tags"), where)
        interval = self.duration(
            keys.get("interval"),
            where,
            "interval",
            MIN_FEED_INTERVAL,
            MAX_FEED_INTERVAL,
            "15m or 2h",
        )
        enabled = self.boolean(keys.get("enabled"), where, "enabled")
        if feed_id is None or url is None:
            return None
        return FeedConfig(
            id=feed_id,
            url=url,
            name=(name or "").strip(),
            tags=tags,
            interval_seconds=DEFAULT_FEED_INTERVAL if interval is None else interval,
            enabled=True if enabled is None else enabled,
            allow_private=bool(allow_private),
        )

    def read_url(
        self, node: Node | None, item: Node, where: str, *, allow_private: bool
    ) -> str | None:
        if node is None:
            self.report(item, where, "url is required")
            return None
        raw = self.text(node, where, "url", required=True, limit=2048)
        if raw is None:
            return None
        url = raw.strip()
        shown = _show(redact_url(url), 100)
        if any(c.isspace() or not c.isprintable() for c in url):
            self.report(
                node,
                where,
                f"url {shown} contains spaces or control characters "
                "(percent-encode a space as %20)",
            )
            return None
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises ValueError for a port out of range or not a number
        except ValueError:
            self.report(node, where, f"url {shown} is not a valid URL")
            return None
        if parts.scheme.lower() not in ("http", "https"):
            scheme = f", not '{parts.scheme}:'" if parts.scheme else ""
            self.report(node, where, f"url {shown} must start with http:// or https://{scheme}")
            return None
        if not parts.hostname:
            self.report(node, where, f"url {shown} has no host name")
            return None
        private = _private_host(parts.hostname)
        if private and not allow_private:
            self.report(
                node,
                where,
                f"url host {parts.hostname} is {private}; a feed may reach loopback or "
                "private-network addresses only with allow_private: true",
            )
            return None
        return url

    def read_tags(self, node: Node | None, where: str) -> tuple[str, ...]:
        tags: list[str] = []
        for item in self.sequence(node, where, "tags", "[us, export-controls]"):
            tag = self.text(item, where, "a tag", required=True, limit=64)
            if tag is None:
                continue
            tag = tag.strip().lower()
            if not _TAG_RE.fullmatch(tag):
                rule = "one word without spaces, quotes, parentheses, commas or colons"
                self.report(item, where, f"tag {_show(tag)} must be {rule} (used as tag:NAME)")
                continue
            if tag not in tags:
                tags.append(tag)
        return tuple(tags)

    def read_topic(self, item: Node, index: int, seen: dict[str, int]) -> TopicConfig | None:
        label = _entry_label(item, "topic", index, "id", _ID_RE)
        keys = self.mapping(item, label, TOPIC_KEYS, "a mapping with id and query")
        if keys is None:
            return None
        where, topic_id = self.read_id(keys, item, "topic", index, seen)
        query_node = keys.get("query")
        query = None
        if query_node is None:
            self.report(item, where, "query is required")
        else:
            query = self.text(query_node, where, "query", required=True, limit=2000)
        if query is not None and query_node is not None:
            error = _check_query(query)
            if error is not None:
                self.report(query_node, where, f"query {_show(query)}: {error}")
                query = None
        description = self.text(keys.get("description"), where, "description", limit=500)
        priority = self.number(keys.get("priority"), where, "priority", int, -1000, 1000)
        if topic_id is None or query is None:
            return None
        return TopicConfig(
            id=topic_id,
            query=query.strip(),
            description=(description or "").strip(),
            priority=priority or 0,
        )

    def read_digest(self, item: Node, index: int, seen: dict[str, int]) -> DigestConfig | None:
        label = _entry_label(item, "digest", index, "channel", _CHANNEL_RE)
        keys = self.mapping(item, label, DIGEST_KEYS, "a mapping with channel, at and timezone")
        if keys is None:
            return None
        where = f"digest #{index}"
        channel = None
        channel_node = keys.get("channel")
        if channel_node is None:
            self.report(item, where, "channel is required")
        else:
            channel = self.slack_id(channel_node, where, "channel", _CHANNEL_RE, "channel")
        if channel is not None and channel_node is not None:
            where = f"digest {_show(channel)}"
            if channel in seen:
                self.report(
                    channel_node,
                    where,
                    f"duplicate channel (first digest at line {seen[channel]}); "
                    "list all of a channel's topics in one digest",
                )
                channel = None
            else:
                seen[channel] = _line(channel_node)
        at = self.read_time(keys.get("at"), item, where)
        timezone = self.read_timezone(keys.get("timezone"), item, where)
        days = ALL_DAYS
        days_node = keys.get("days")
        if days_node is not None:
            days = self.read_days(days_node, where) or ALL_DAYS
        topic_ids = self.read_ids(keys.get("topics"), where, "topic", "[entity-list]")
        feed_ids = self.read_ids(keys.get("feeds"), where, "feed", "[fr-bis]")
        max_items = self.number(keys.get("max_items"), where, "max_items", int, 1, 200)
        thread = self.boolean(keys.get("thread"), where, "thread")
        when_empty = self.text(keys.get("when_empty"), where, "when_empty")
        if when_empty is not None and when_empty not in WHEN_EMPTY:
            self.report(
                keys.get("when_empty"),
                where,
                f"when_empty must be 'skip' or 'notice', not {_show(when_empty)}",
            )
            when_empty = None
        if channel is None or at is None or timezone is None:
            return None
        return DigestConfig(
            channel=channel,
            at=at,
            timezone=timezone,
            days=days,
            topics=tuple(topic_ids),
            feeds=tuple(feed_ids),
            max_items=20 if max_items is None else max_items,
            thread=True if thread is None else thread,
            when_empty=when_empty or "skip",
        )

    def read_time(self, node: Node | None, item: Node, where: str) -> time | None:
        if node is None:
            self.report(item, where, "at is required (the local time to post, such as 08:30)")
            return None
        # The raw text, so that an unquoted 18:30 is a time and not YAML 1.1's
        # base-60 integer 1110.
        value = self.text(node, where, "at", required=True, limit=20)
        if value is None:
            return None
        try:
            return _parse_time_of_day(value)
        except ValueError as err:
            self.report(node, where, f"at {err}")
            return None

    def read_timezone(self, node: Node | None, item: Node, where: str) -> str | None:
        if node is None:
            self.report(item, where, "timezone is required (an IANA name such as Asia/Tokyo)")
            return None
        value = self.text(node, where, "timezone", required=True, limit=100)
        if value is None:
            return None
        problem = _check_timezone(value)
        if problem is not None:
            self.report(node, where, f"timezone {_show(value)} {problem}")
            return None
        return value

    def read_days(self, node: Node, where: str) -> frozenset[int] | None:
        example = "mon-fri, mon,wed,fri, daily or weekdays"
        if isinstance(node, SequenceNode):
            parts = [self.text(n, where, "a day", required=True, limit=40) for n in node.value]
            if any(p is None for p in parts):
                return None
            spec: str | list[str] = [p for p in parts if p is not None]
            shown = "[" + ", ".join(spec) + "]"
        else:
            text = self.text(node, where, "days", required=True, limit=200)
            if text is None:
                return None
            spec, shown = text, _show(text)
        try:
            return parse_days(spec)
        except ValueError as err:
            self.report(node, where, f"days {shown} is not a day list such as {example}: {err}")
            return None

    def read_ids(self, node: Node | None, where: str, kind: str, example: str) -> list[str]:
        """The ids a digest names (topics: or feeds:), remembered for check_references."""
        out: list[str] = []
        for item in self.sequence(node, where, f"{kind}s", example):
            value = self.text(item, where, f"an entry of {kind}s", required=True, limit=64)
            if value is not None and value not in out:
                out.append(value)
                self.references.append((where, kind, value, item))
        return out

    def check_references(self, feed_lines: dict[str, int], topic_lines: dict[str, int]) -> None:
        """Digests must name defined topics and feeds (checked once all are read).

        The ids include those of entries with other errors, so one bad field in
        a feed does not also make every digest naming it "not defined".
        """
        for where, kind, ref, node in self.references:
            defined = topic_lines if kind == "topic" else feed_lines
            if ref in defined:
                continue
            hint = difflib.get_close_matches(ref, list(defined), n=1, cutoff=0.6)
            tail = f" (did you mean {_show(hint[0])}?)" if hint else ""
            self.report(node, where, f"names {kind} {_show(ref)}, which is not defined{tail}")

    # -- environment ----------------------------------------------------------

    def apply_env(self, config: Config, env: Mapping[str, str]) -> Config:
        settings = config.settings
        data_dir = env.get("BRIEFBOT_DATA", "").strip()
        if data_dir:
            settings = dataclasses.replace(settings, data_dir=data_dir)
        api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problems.append(
                ConfigProblem(
                    ENVIRONMENT,
                    None,
                    f"SLACK_API_URL {_show(redact_url(api_url))} must be an http:// or "
                    "https:// URL such as https://slack.com/api/",
                )
            )
        elif not api_url.endswith("/"):
            api_url += "/"  # slack_sdk joins method names onto base_url as is
        slack = SlackSecrets(
            bot_token=env.get("SLACK_BOT_TOKEN", "").strip() or None,
            signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip() or None,
            app_token=env.get("SLACK_APP_TOKEN", "").strip() or None,
            api_url=api_url,
        )
        return dataclasses.replace(config, settings=settings, slack=slack)


def _entry_label(item: Node, kind: str, index: int, key: str, pattern: re.Pattern[str]) -> str:
    """How messages name a list entry: by its id when it has a valid one, else by position."""
    if isinstance(item, MappingNode):
        for key_node, value in item.value:
            if key_node.value == key and isinstance(value, ScalarNode):
                if pattern.fullmatch(str(value.value)):
                    return f"{kind} {_show(str(value.value))}"
                break
    return f"{kind} #{index}"


def _range_text(low: float, high: float, low_exclusive: bool, unit: str, value: float) -> str:
    suffix = f" {unit}" if unit else ""
    lower = f"more than {low:g}" if low_exclusive else f"at least {low:g}"
    return f"must be {lower} and at most {high:g}{suffix}, not {value:g}"


def _private_host(host: str) -> str | None:
    """What kind of non-public address a literal host is, or None.

    Only literal addresses and localhost names are judged here; names that
    resolve to private addresses are the fetcher's business (at connect time).
    """
    lowered = host.lower().rstrip(".")
    # RFC 6761 section 6.3: localhost and *.localhost are loopback names.
    if lowered == "localhost" or lowered.endswith(".localhost"):
        return "a loopback name"
    try:
        address = ipaddress.ip_address(lowered)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return "a private-network address"
    return None


def _check_timezone(name: str) -> str | None:
    """None when `name` is a known IANA zone, else what is wrong."""
    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    known = zoneinfo.available_timezones()
    if not known:
        return (
            "cannot be checked: no IANA time zone database was found on this machine "
            "(install the tzdata package)"
        )
    by_lower = {zone.lower(): zone for zone in known}
    hint = [by_lower[name.lower()]] if name.lower() in by_lower else []
    hint = hint or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    tail = f" (did you mean {_show(hint[0])}?)" if hint else ""
    return f"is not a known IANA time zone such as Asia/Tokyo or America/New_York{tail}"


def _check_query(text: str) -> str | None:
    """The query language's error for `text`, or None when it parses.

    bot.find.query is imported lazily and is optional: when the module is absent,
    queries are accepted unchecked (and checked when it arrives).
    """
    try:
        module = importlib.import_module("bot.find.query.parser")
    except ModuleNotFoundError as err:
        if err.name == "bot.find.query.parser":
            return None
        raise
    parse_query: Callable[[str], object] = module.parse_query
    query_error: type[Exception] = module.QueryError
    try:
        parse_query(text)
    except query_error as err:
        return str(err)
    except Exception as err:  # a parser bug must not hide the other problems of the file
        return f"could not be checked: the query parser failed ({type(err).__name__})"
    return None
