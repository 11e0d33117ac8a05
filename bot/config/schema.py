"""Read feeds.yaml and the environment into a frozen, validated `Config`.

Every problem in a file is collected and reported at once, each as
`file:line: where: what` (`feeds.yaml:14: feed 'fr-bis': interval '15 minutes'
is not a duration such as 15m or 2h`), so an operator fixes a file in one pass.

The file is read from PyYAML's node tree (bot/config/checker.py says why), a
section at a time (bot/config/sections/); digests' references to topics and
feeds are checked once every section is read.

Secrets come only from the environment (SLACK_*, BRIEFBOT_LLM_KEY), never from the file, and no
text this package produces contains a token: `SlackSecrets.__repr__` and
`describe_config` show only "set"/"not set", and URLs are shown with their
credentials replaced by `***`.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from yaml.nodes import MappingNode, Node

from bot.config.checker import CHANNEL_RE, USER_RE, Checker, describe_node, is_null
from bot.config.llm import read_language_model
from bot.config.model import DEFAULT_SLACK_API_URL, Config, ConfigError, ConfigProblem, SlackSecrets
from bot.config.redact import redact_url
from bot.config.sections.digests import check_references, read_digest
from bot.config.sections.feeds import read_feed
from bot.config.sections.screening import read_screening_list
from bot.config.sections.settings import DATABASE_URL_HINT, is_database_url, read_settings
from bot.config.sections.topics import read_topic
from bot.config.units import show_value

__all__ = ["EMBEDDED_PATH", "load_config", "parse_config_text"]

# What `Config.path` and error locations say for the copy shipped in the package.
EMBEDDED_PATH = "<embedded defaults>"
ENVIRONMENT = "<environment>"

# A feeds.yaml is a few kilobytes; a bigger file is almost surely the wrong one.
MAX_FILE_BYTES = 5 * 1024 * 1024

TOP_LEVEL_KEYS = (
    "settings",
    "feeds",
    "topics",
    "digests",
    "admins",
    "ops_channel",
    "screening_list",
)

_T = TypeVar("_T")


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
    checker = Checker(filename)
    root = checker.compose(text)
    config = _read_root(checker, root) if root is not None else Config(path=filename)
    config = dataclasses.replace(config, path=filename)
    config = _apply_env(checker, config, env)
    if checker.problems:
        raise ConfigError(sorted(checker.problems, key=_problem_order))
    return config


def _problem_order(problem: ConfigProblem) -> tuple[int, int]:
    return (0 if problem.file != ENVIRONMENT else 1, problem.line or 0)


def _read_root(check: Checker, root: Node) -> Config:
    if is_null(root):
        return Config(path=check.filename)
    if not isinstance(root, MappingNode):
        check.report(
            root,
            "",
            f"the top level must be a mapping with the keys {', '.join(TOP_LEVEL_KEYS)}, "
            f"not {describe_node(root)}",
        )
        return Config(path=check.filename)
    keys = check.mapping(root, "", TOP_LEVEL_KEYS, "a mapping")
    if keys is None:
        return Config(path=check.filename)
    settings = read_settings(check, keys.get("settings"))
    feeds, feed_lines = _read_list(check, keys.get("feeds"), "feeds", read_feed)
    topics, topic_lines = _read_list(check, keys.get("topics"), "topics", read_topic)
    digests, _ = _read_list(check, keys.get("digests"), "digests", read_digest)
    check_references(check, feed_lines, topic_lines)
    admins: list[str] = []
    for item in check.sequence(keys.get("admins"), "admins", "", "[U0123456789]"):
        user = check.slack_id(item, "admins", "admin", USER_RE, "user")
        if user is not None and user not in admins:
            admins.append(user)
    ops_node = keys.get("ops_channel")
    ops_channel = None
    if ops_node is not None and not is_null(ops_node):
        ops_channel = check.slack_id(ops_node, "", "ops_channel", CHANNEL_RE, "channel")
    return Config(
        path=check.filename,
        settings=settings,
        feeds=tuple(feeds),
        topics=tuple(topics),
        digests=tuple(digests),
        admins=tuple(admins),
        ops_channel=ops_channel,
        screening_list=read_screening_list(check, keys.get("screening_list")),
    )


def _read_list(
    check: Checker,
    node: Node | None,
    section: str,
    read_one: Callable[[Checker, Node, int, dict[str, int]], _T | None],
) -> tuple[list[_T], dict[str, int]]:
    """Read each entry of a top-level list; `seen` maps ids to their first line."""
    example = {"feeds": "[{id: ..., url: ...}]", "topics": "[{id: ..., query: ...}]"}.get(
        section, "[{channel: ..., at: ...}]"
    )
    out: list[_T] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(check.sequence(node, "", section, example), start=1):
        value = read_one(check, item, index, seen)
        if value is not None:
            out.append(value)
    return out, seen


def _apply_env(check: Checker, config: Config, env: Mapping[str, str]) -> Config:
    settings = config.settings
    data_dir = env.get("BRIEFBOT_DATA", "").strip()
    if data_dir:
        settings = dataclasses.replace(settings, data_dir=data_dir)
    database_url = env.get("BRIEFBOT_DATABASE_URL", "").strip()
    if database_url and not is_database_url(database_url):
        check.problems.append(
            ConfigProblem(
                ENVIRONMENT,
                None,
                f"BRIEFBOT_DATABASE_URL {DATABASE_URL_HINT}, not {redact_url(database_url)!r}",
            )
        )
    elif database_url:
        settings = dataclasses.replace(settings, database_url=database_url)
    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        check.problems.append(
            ConfigProblem(
                ENVIRONMENT,
                None,
                f"SLACK_API_URL {show_value(redact_url(api_url))} must be an http:// or "
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
        client_id=env.get("SLACK_CLIENT_ID", "").strip() or None,
        client_secret=env.get("SLACK_CLIENT_SECRET", "").strip() or None,
        secret_key=env.get("BRIEFBOT_SECRET_KEY", "").strip() or None,
    )
    llm = read_language_model(env, check.problems)
    return dataclasses.replace(config, settings=settings, slack=slack, llm=llm)
